/** NATS authentication and TLS settings (nats-config.ts): sources, relative files, validation, what @modelnode/nats gets. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, type LoadedConfig } from "../src/index.js";
import { natsConnectOptions } from "../src/nats-config.js";

const dir = mkdtempSync(join(tmpdir(), "model-node-nats-"));
for (const name of ["user.creds", "user.nk", "ca.pem", "client.pem", "client-key.pem"]) writeFileSync(join(dir, name), "x");

function load(argv: string[], env: NodeJS.ProcessEnv = {}, cwd = dir): LoadedConfig["config"] {
  const loaded = loadConfig({ argv: ["--role", "worker", "--nats", "nats://a:4222,nats://b:4222", ...argv], env, cwd });
  assert.notEqual(loaded, "help");
  return (loaded as LoadedConfig).config;
}

function configError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    load(argv, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail("expected a config error");
}

test("flags, environment and config file give the same options; files relative to the file, or to the working directory", () => {
  const file = join(dir, "node.json");
  writeFileSync(file, JSON.stringify({ natsAuth: { credsFile: "user.creds" }, natsTls: { caFile: "ca.pem" } }));
  const fromFile = natsConnectOptions(load(["--config", file], {}, tmpdir()));
  assert.deepEqual(fromFile, { servers: ["nats://a:4222", "nats://b:4222"], auth: { credsFile: join(dir, "user.creds") }, tls: { caFile: join(dir, "ca.pem") } });
  const fromFlags = natsConnectOptions(load(["--nats-nkey-seed", "user.nk", "--nats-tls-ca", "ca.pem", "--nats-tls-cert", "client.pem", "--nats-tls-key", "client-key.pem"]));
  assert.deepEqual(fromFlags.auth, { nkeySeedFile: join(dir, "user.nk") });
  assert.deepEqual(fromFlags.tls, { caFile: join(dir, "ca.pem"), certFile: join(dir, "client.pem"), keyFile: join(dir, "client-key.pem") });
  assert.deepEqual(natsConnectOptions(load([], { MODELNODE_NATS_USER: "u", MODELNODE_NATS_PASS: "p" })).auth, { user: "u", pass: "p" });
  assert.deepEqual(natsConnectOptions(load(["--nats-token", "t"], { MODELNODE_NATS_TOKEN: "env" })).auth, { token: "t" }, "a flag wins over the environment");
  assert.deepEqual(natsConnectOptions(load([])), { servers: ["nats://a:4222", "nats://b:4222"] });
});

test("one way to authenticate, pairs complete, files present: otherwise a config error naming the field and its source", () => {
  assert.match(configError(["--nats-pass", "p"]), /natsAuth\.user: expected a user with the password/);
  assert.match(configError(["--nats-user", "u", "--nats-creds", "user.creds"], { MODELNODE_NATS_PASS: "p" }), /natsAuth\.credsFile: expected one way to authenticate, got user and credsFile/);
  assert.match(configError(["--nats-tls-key", "client-key.pem"]), /natsTls\.certFile: expected the client certificate \(certFile\) with keyFile/);
  assert.match(configError([], { MODELNODE_NATS_NKEY_SEED: "missing.nk" }), new RegExp(`natsAuth\\.nkeySeedFile: file not found: ${join(dir, "missing.nk")} \\(from MODELNODE_NATS_NKEY_SEED\\)`));
  const error = configError(["--nats-token", ""]);
  assert.match(error, /natsAuth\.token: expected NATS token/);
});

test("a password in an error is never shown", () => {
  const error = configError(["--nats-user", "u", "--nats-pass", "s3cret-pw", "--nats-token", "s3cret-tok"]);
  assert.ok(!error.includes("s3cret"), error);
});
