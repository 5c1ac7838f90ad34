import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { authOptionsSchema, authPlugin, hashLicenseKey, AUTH_DEFAULTS } from "../src/index.js";
import { resolveAuthOptions } from "../src/options.js";

test("defaults: required, heartbeat and authentication exempt, legacy exempt, 5 attempts", () => {
  const o = resolveAuthOptions({ keyHashes: [hashLicenseKey("k")] });
  assert.equal(o.required, true);
  assert.deepEqual([...o.exemptTypes].sort(), ["authentication", "heartbeat"]);
  assert.equal(o.exemptLegacy, true);
  assert.equal(o.maxFailedAttempts, 5);
  assert.equal(o.secretIsRandom, true);
  assert.equal(o.secret.length, 32);
  assert.equal(AUTH_DEFAULTS.failureDelayMs, 200);
});

test("authentication stays exempt whatever exemptTypes says", () => {
  const o = resolveAuthOptions({ keyHashes: [], exemptTypes: ["status"] });
  assert.deepEqual([...o.exemptTypes].sort(), ["authentication", "status"]);
});

test("a plain key or malformed hash is refused without echoing it", () => {
  for (const bad of ["my-plain-license-key", "sha256:1234", `md5:${"a".repeat(32)}`]) {
    assert.throws(
      () => authPlugin({ keyHashes: [hashLicenseKey("ok"), bad] }),
      (err: Error) => /keyHashes\[1\]/.test(err.message) && !err.message.includes(bad),
    );
  }
  assert.throws(() => authPlugin({} as never), /keyHashes must be an array/);
});

test("a short secret and out-of-range limits are refused, naming the option only", () => {
  assert.throws(
    () => authPlugin({ keyHashes: [], secret: "too-short-secret" }),
    (err: Error) => /at least 32 bytes/.test(err.message) && !err.message.includes("too-short-secret"),
  );
  assert.throws(() => authPlugin({ keyHashes: [], maxFailedAttempts: 0 }), /maxFailedAttempts/);
  assert.throws(() => authPlugin({ keyHashes: [], failureDelayMs: -1 }), /failureDelayMs/);
  assert.throws(() => authPlugin({ keyHashes: [], required: "yes" as never }), /required/);
  assert.equal(authPlugin({ keyHashes: [], secret: "x".repeat(32) }).name, "auth");
});

test("the hash-key CLI prints the same hash from an argument or from stdin", () => {
  const cli = fileURLToPath(new URL("../src/hash-key-cli.js", import.meta.url));
  const fromArg = spawnSync(process.execPath, [cli, "s3cret-key"], { encoding: "utf8" });
  assert.equal(fromArg.status, 0);
  assert.equal(fromArg.stdout.trim(), hashLicenseKey("s3cret-key"));
  const fromStdin = spawnSync(process.execPath, [cli], { input: "s3cret-key\n", encoding: "utf8" });
  assert.equal(fromStdin.stdout.trim(), hashLicenseKey("s3cret-key"));
  const empty = spawnSync(process.execPath, [cli], { input: "", encoding: "utf8" });
  assert.equal(empty.status, 2);
  assert.match(empty.stderr, /usage/);
});

test("the hash-key CLI takes a key starting with - only after --, and refuses other options and a second key", () => {
  const cli = fileURLToPath(new URL("../src/hash-key-cli.js", import.meta.url));
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { input: "", encoding: "utf8" });
  const dashed = run("--", "-starts-with-dash");
  assert.equal(dashed.status, 0);
  assert.equal(dashed.stdout.trim(), hashLicenseKey("-starts-with-dash"));
  for (const refused of [run("-x"), run("--verbose"), run("key-one", "key-two")]) {
    assert.equal(refused.status, 2);
    assert.equal(refused.stdout, "");
    assert.match(refused.stderr, /usage/);
  }
});

test("authOptionsSchema refuses NaN and negatives, naming the field; its defaults are AUTH_DEFAULTS", () => {
  const parsed = authOptionsSchema.parse({ keyHashes: [] });
  assert.deepEqual(parsed, { keyHashes: [], ...AUTH_DEFAULTS, exemptTypes: [...AUTH_DEFAULTS.exemptTypes] });
  const fields = ["maxFailedAttempts", "failureDelayMs", "maxFailureDelayMs", "addressFailureLimit", "addressFailureWindowMs", "maxTrackedAddresses"];
  for (const field of fields) {
    for (const bad of [Number.NaN, -1, 0.5]) {
      const result = authOptionsSchema.safeParse({ keyHashes: [], [field]: bad });
      assert.equal(result.success, false, `${field}: ${bad}`);
      assert.deepEqual(result.error!.issues[0].path, [field]);
      assert.match(result.error!.issues[0].message, /^expected a whole number ≥ [01]$/);
      assert.throws(() => authPlugin({ keyHashes: [], [field]: bad }), {
        name: "TypeError",
        message: new RegExp(`^authPlugin: ${field} must be a whole number ≥ [01]$`),
      });
    }
  }
  assert.throws(() => authPlugin({ keyHashes: [], maxFailedAttemps: 3 } as never), { message: 'authPlugin: unknown option "maxFailedAttemps"' });
});
