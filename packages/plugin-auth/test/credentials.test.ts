import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { hashLicenseKey, isKeyHash } from "../src/index.js";
import { KeyDigests, LicenseHashes } from "../src/credentials.js";

test("hashLicenseKey is sha256 of the UTF-8 key, prefixed", () => {
  assert.equal(hashLicenseKey("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.ok(isKeyHash(hashLicenseKey("ключ-🔑")));
  assert.equal(isKeyHash("abc"), false);
  assert.equal(isKeyHash("sha256:xyz"), false);
  assert.throws(() => hashLicenseKey(""), /non-empty/);
});

test("KeyDigests finds the matching configured key, or -1", () => {
  const keys = new KeyDigests([hashLicenseKey("first"), hashLicenseKey("second")]);
  assert.equal(keys.match("second"), 1);
  assert.equal(keys.match("first"), 0);
  assert.equal(keys.match("third"), -1);
  assert.equal(keys.match("Second"), -1);
  assert.equal(new KeyDigests([]).match("first"), -1);
});

test("license_hash: lh1 token, verifiable, reveals neither the key nor its configured hash", () => {
  const keyHash = hashLicenseKey("the-key");
  const keys = new KeyDigests([keyHash, hashLicenseKey("other")]);
  const secret = randomBytes(32);
  const hashes = new LicenseHashes(secret, keys.digests);
  const token = hashes.issue(0);
  assert.match(token, /^lh1\.[A-Za-z0-9_-]{43}$/);
  assert.notEqual(token, keyHash);
  assert.ok(!token.includes(keyHash.slice(7, 20)));
  assert.ok(!token.includes("the-key"));
  assert.notEqual(hashes.issue(1), token);
  assert.equal(hashes.verify(token), true);
  assert.equal(hashes.verify(hashes.issue(1)), true);
});

test("license_hash verification refuses tampered, foreign and malformed tokens", () => {
  const keys = new KeyDigests([hashLicenseKey("the-key")]);
  const hashes = new LicenseHashes(randomBytes(32), keys.digests);
  const token = hashes.issue(0);
  const last = token.at(-1) === "A" ? "B" : "A";
  assert.equal(hashes.verify(token.slice(0, -1) + last), false);
  assert.equal(hashes.verify(token + "A"), false);
  assert.equal(hashes.verify(token.slice(0, -1)), false);
  assert.equal(hashes.verify(""), false);
  assert.equal(hashes.verify(hashLicenseKey("the-key")), false);
  // Another node (another secret) issues a different token for the same key.
  const other = new LicenseHashes(randomBytes(32), keys.digests);
  assert.equal(hashes.verify(other.issue(0)), false);
  // The same secret gives the same token: nodes sharing a secret accept each other's hashes.
  const secret = randomBytes(32);
  assert.equal(new LicenseHashes(secret, keys.digests).issue(0), new LicenseHashes(secret, keys.digests).issue(0));
});
