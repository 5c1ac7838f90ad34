/** The gateway's session store setting (session-store-config.ts): sources, precedence, validation, what @modelnode/nats gets. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, type LoadedConfig } from "../src/index.js";
import { sessionStoreOptions } from "../src/session-store-config.js";

const dir = mkdtempSync(join(tmpdir(), "model-node-store-"));

function load(argv: string[], env: NodeJS.ProcessEnv = {}, role = "gateway"): LoadedConfig["config"] {
  const loaded = loadConfig({ argv: ["--role", role, "--nats", "nats://a:4222", ...argv], env, cwd: dir });
  assert.notEqual(loaded, "help");
  return (loaded as LoadedConfig).config;
}

function configError(argv: string[], env: NodeJS.ProcessEnv = {}, role = "gateway"): string {
  try {
    load(argv, env, role);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail("expected a config error");
}

test("memory by default; jetstream from a flag, the environment or the config file, a flag winning", () => {
  assert.deepEqual(sessionStoreOptions(load([]).sessionStore), { kind: "memory" });
  assert.deepEqual(sessionStoreOptions(load(["--session-store", "jetstream"]).sessionStore), { kind: "jetstream" });
  assert.deepEqual(
    sessionStoreOptions(load([], { MODELNODE_SESSION_STORE: "jetstream", MODELNODE_SESSION_STORE_REPLICAS: "3", MODELNODE_SESSION_STORE_BUCKET: "sess" }).sessionStore),
    { kind: "jetstream", bucket: "sess", replicas: 3 },
  );
  const file = join(dir, "node.json");
  writeFileSync(file, JSON.stringify({ sessionStore: { kind: "jetstream", replicas: 3, ttlMs: 60_000 } }));
  assert.deepEqual(sessionStoreOptions(load(["--config", file]).sessionStore), { kind: "jetstream", replicas: 3, ttlMs: 60_000 });
  assert.deepEqual(sessionStoreOptions(load(["--config", file, "--session-store-replicas", "1"]).sessionStore), { kind: "jetstream", replicas: 1, ttlMs: 60_000 }, "a flag wins over the file");
  assert.deepEqual(sessionStoreOptions(load(["--session-store", "memory"], { MODELNODE_SESSION_STORE: "jetstream" }).sessionStore), { kind: "memory" }, "a flag wins over the environment");
});

test("a wrong kind, replicas or bucket, jetstream options with memory, or a store on another role: a config error naming the field and its source", () => {
  assert.match(configError(["--session-store", "redis"]), /sessionStore\.kind: expected "memory" or "jetstream".*--session-store/);
  assert.match(configError(["--session-store", "jetstream", "--session-store-replicas", "7"]), /sessionStore\.replicas: expected a whole number from 1 to 5.*--session-store-replicas/);
  assert.match(configError([], { MODELNODE_SESSION_STORE: "jetstream", MODELNODE_SESSION_STORE_BUCKET: "a.b" }), /sessionStore\.bucket: expected a bucket name of letters, digits.*MODELNODE_SESSION_STORE_BUCKET/);
  assert.match(configError(["--session-store-replicas", "3"]), /sessionStore\.replicas: expected kind "jetstream" with this option/);
  assert.match(configError(["--session-store", "jetstream"], {}, "worker"), /sessionStore\.kind: expected role gateway for a jetstream session store \(the role is worker\)/);
});
