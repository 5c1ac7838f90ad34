/**
 * The legacy step sessions' stores (session-store.ts, jetstream-session-store.ts): the same
 * contract in memory and in a JetStream KV bucket on a real nats-server (compare-and-set on the
 * revision, delete, any session id), two gateways' stores on one bucket, and the startup errors
 * an operator sees (JetStream off, a bad option).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { NatsPipeline } from "../src/gateway.js";
import { JetStreamSessionStore } from "../src/jetstream-session-store.js";
import { checkGatewayLimits } from "../src/limits.js";
import { MemorySessionStore, SessionConflict, sessionKey, type SessionRecord, type SessionStore } from "../src/session-store.js";

const NATS_SERVER = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"].find((p) => spawnSync(p, ["--version"]).status === 0);
const skip = NATS_SERVER ? false : "nats-server is not installed (apt-get install nats-server)";

const servers: ChildProcess[] = [];
const connections: NatsConnection[] = [];
const dirs: string[] = [];
after(async () => {
  for (const nc of connections) await nc.close().catch(() => {});
  for (const s of servers) s.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A nats-server on a free port, with JetStream (a store in a fresh folder) or without. */
async function natsServer(jetStream: boolean): Promise<string> {
  const port = await freePort();
  const args = ["-a", "127.0.0.1", "-p", String(port)];
  if (jetStream) {
    const dir = mkdtempSync(join(tmpdir(), "modelnode-kv-test-"));
    dirs.push(dir);
    args.push("-js", "-sd", dir);
  }
  const proc = spawn(NATS_SERVER!, args, { stdio: ["ignore", "ignore", "pipe"] });
  servers.push(proc);
  await new Promise<void>((resolve, reject) => {
    let log = "";
    proc.stderr!.on("data", (d) => {
      log += String(d);
      if (log.includes("Server is ready")) resolve();
    });
    proc.once("exit", (code) => reject(new Error(`nats-server exited ${code}: ${log}`)));
  });
  return `nats://127.0.0.1:${port}`;
}

async function connection(url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url });
  connections.push(nc);
  return nc;
}

const record = (steps: number, worker?: string): SessionRecord => ({
  modelId: "tiny",
  workerSessionId: "gA/s",
  ...(worker ? { worker } : {}),
  history: Array.from({ length: steps }, (_, step) => ({ sessionId: "gA/s", modelId: "tiny", step, inputIds: [step + 1, 7] })),
});

/** The contract every store keeps. */
async function contract(store: SessionStore): Promise<void> {
  assert.equal(await store.get("s"), undefined, "an unknown session");
  const r1 = await store.put("s", record(1, "w1"), 0);
  assert.deepEqual(await store.get("s"), { record: record(1, "w1"), revision: r1 });
  await assert.rejects(store.put("s", record(1), 0), SessionConflict, "creating one that exists");
  const r2 = await store.put("s", record(2, "w1"), r1);
  assert.ok(r2 > r1);
  await assert.rejects(store.put("s", record(3), r1), SessionConflict, "a write from a stale revision");
  assert.deepEqual((await store.get("s"))?.record, record(2, "w1"), "the losing write changed nothing");
  await store.delete("s");
  assert.equal(await store.get("s"), undefined, "deleted");
  await assert.rejects(store.put("s", record(1), r2), SessionConflict, "updating a deleted one");
  const r3 = await store.put("s", record(1, "w2"), 0);
  assert.deepEqual(await store.get("s"), { record: record(1, "w2"), revision: r3 }, "started again after a delete");
  // Any session id: a connection-scoped one holds "/", a client's may hold dots, spaces, any script.
  const ids = ["conn-1/abc", "a.b", "a b", ".", "日本語 🙂", "a/b", "a_b", "YQ"];
  for (const [i, id] of ids.entries()) await store.put(id, record(i + 1), 0);
  for (const [i, id] of ids.entries()) assert.equal((await store.get(id))?.record.history.length, i + 1, id);
}

test("keys: any session id maps to a valid KV key, one-to-one", () => {
  const ids = ["s", "conn-1/abc", "a.b", "a b", ".", "..", "日本語", "YQ", "a/b", "a_b"];
  const keys = ids.map(sessionKey);
  for (const key of keys) assert.match(key, /^[-/_=.A-Za-z0-9]+$/);
  assert.equal(new Set(keys).size, ids.length);
});

test("the memory store keeps the contract", async () => {
  await contract(new MemorySessionStore());
});

describe("the JetStream store, on a real nats-server", { skip }, () => {
  test("keeps the contract", async () => {
    const nc = await connection(await natsServer(true));
    await contract(await JetStreamSessionStore.open(nc, { kind: "jetstream", bucket: "contract" }));
  });

  test("two gateways on one bucket see each other's sessions; of two writes from one revision, one wins", async () => {
    const url = await natsServer(true);
    const a = await JetStreamSessionStore.open(await connection(url), { kind: "jetstream" });
    const b = await JetStreamSessionStore.open(await connection(url), { kind: "jetstream" });
    const r1 = await a.put("shared", record(1, "w1"), 0);
    assert.deepEqual(await b.get("shared"), { record: record(1, "w1"), revision: r1 }, "B reads what A wrote");
    const results = await Promise.allSettled([a.put("shared", record(2, "wA"), r1), b.put("shared", record(2, "wB"), r1)]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1, "one write wins");
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.ok(lost.reason instanceof SessionConflict);
    const winner = results[0].status === "fulfilled" ? "wA" : "wB";
    assert.equal((await a.get("shared"))?.record.worker, winner);
    await b.delete("shared");
    assert.equal(await a.get("shared"), undefined, "a delete by B is seen by A");
  });

  test("the bucket is made with the options: one revision per key, the ttl as its max age, the replicas", async () => {
    const nc = await connection(await natsServer(true));
    await JetStreamSessionStore.open(nc, { kind: "jetstream", bucket: "opts", ttlMs: 90_000 });
    const info = await (await jetstreamManager(nc)).streams.info("KV_opts");
    assert.equal(info.config.max_age, 90_000 * 1e6);
    assert.equal(info.config.max_msgs_per_subject, 1);
    assert.equal(info.config.num_replicas, 1);
    // A second gateway opening it with other options uses it as it is.
    const again = await JetStreamSessionStore.open(nc, { kind: "jetstream", bucket: "opts", ttlMs: 5000 });
    assert.equal(await again.get("none"), undefined);
  });

  test("JetStream off on the server: opening the store, and a gateway with it, fails naming JetStream", async () => {
    const url = await natsServer(false);
    await assert.rejects(JetStreamSessionStore.open(await connection(url), { kind: "jetstream" }), /JetStream is not enabled on the NATS server \(start nats-server with -js/);
    await assert.rejects(NatsPipeline.connect({ servers: url, discoverMs: 10, sessionStore: { kind: "jetstream" } }), /sessionStore "jetstream": JetStream is not enabled/);
  });

  test("more replicas than a single server holds: the error names the bucket and the replicas", async () => {
    const nc = await connection(await natsServer(true));
    await assert.rejects(JetStreamSessionStore.open(nc, { kind: "jetstream", bucket: "r3", replicas: 3 }), /cannot open the key-value bucket "r3" \(replicas 3\)/);
  });
});

test("bad sessionStore options are refused at startup, naming the field", () => {
  assert.throws(() => checkGatewayLimits({ sessionStore: { kind: "redis" } }), /sessionStore/);
  assert.throws(() => checkGatewayLimits({ sessionStore: { kind: "jetstream", replicas: 7 } }), /sessionStore\.replicas/);
  assert.throws(() => checkGatewayLimits({ sessionStore: { kind: "jetstream", bucket: "a.b" } }), /sessionStore\.bucket.*letters, digits/);
  assert.throws(() => checkGatewayLimits({ sessionStore: { kind: "jetstream", ttlMs: 0 } }), /sessionStore\.ttlMs/);
  assert.throws(() => checkGatewayLimits({ sessionStore: { kind: "memory", bucket: "x" } }), /sessionStore/);
  checkGatewayLimits({ sessionStore: { kind: "jetstream", bucket: "modelnode_sessions", replicas: 3, ttlMs: 60_000 } });
});
