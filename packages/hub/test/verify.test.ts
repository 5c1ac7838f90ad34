import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { etagContradicts, expectedOf, startHash } from "../src/verify.js";

test("a git file's expected hash is its blob id, computed as git computes it", (t) => {
  const bytes = Buffer.from('{"model_type":"gpt2"}\n');
  const hash = startHash({ size: bytes.length, algorithm: "git-sha1", hash: "" })!.update(bytes).digest("hex");
  const dir = mkdtempSync(join(tmpdir(), "modelnode-verify-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "config.json"), bytes);
  let git: string;
  try {
    git = execFileSync("git", ["hash-object", join(dir, "config.json")], { encoding: "utf8" }).trim();
  } catch {
    return t.skip("git is not installed");
  }
  assert.equal(hash, git);
});

test("LFS files are checked by sha256, git files by blob id, others by size alone", () => {
  const sha256 = "a".repeat(64);
  assert.deepEqual(expectedOf({ path: "onnx/model.onnx", size: 134, oid: "b".repeat(40), lfs: { oid: sha256.toUpperCase(), size: 5000 } }), {
    size: 5000,
    algorithm: "sha256",
    hash: sha256,
  });
  assert.deepEqual(expectedOf({ path: "config.json", size: 20, oid: "c".repeat(40) }), { size: 20, algorithm: "git-sha1", hash: "c".repeat(40) });
  assert.deepEqual(expectedOf({ path: "x", size: 7 }), { size: 7 });
});

test("an ETag that is a hash must be the listed one; a CDN's other ETag says nothing", () => {
  const lfs = { size: 1, algorithm: "sha256" as const, hash: "a".repeat(64) };
  assert.equal(etagContradicts(`"${"a".repeat(64)}"`, lfs), false);
  assert.equal(etagContradicts(`"${"b".repeat(64)}"`, lfs), true);
  assert.equal(etagContradicts('"5d41402abc4b2a76b9719d911017c592-3"', lfs), false);
  const git = { size: 1, algorithm: "git-sha1" as const, hash: "c".repeat(40) };
  assert.equal(etagContradicts(`W/"${"c".repeat(40)}"`, git), false);
  assert.equal(etagContradicts(`W/"${"d".repeat(40)}"`, git), true);
  assert.equal(etagContradicts(undefined, git), false);
});
