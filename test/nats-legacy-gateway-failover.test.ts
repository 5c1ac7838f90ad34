/**
 * Legacy step sessions across gateways (docs/scale-out.md, "Legacy sessions across gateways"):
 * the example node's real processes — a nats-server with JetStream, two workers serving the
 * bundled tiny model, three gateways with `--session-store jetstream` — and a legacy client on a
 * raw WebSocket. A session's steps go to one gateway, then another (each finds the other's
 * steps in the KV bucket), then the gateway is SIGKILLed and the client sends the next steps to
 * another gateway: every step's reply is the one a single node gives for the same session. Then
 * the same with the session's pinned worker SIGKILLed too: its history is replayed on the other.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connectNats, JetStreamSessionStore } from "@modelnode/nats";
import { sleep } from "@modelnode/testing";
import { startCli, type CliRun } from "./support/cli.js";
import { skipWithoutNats, startNatsServer, type NatsServer } from "./support/nats.js";
import { LegacyConnection, legacyInput, type LegacyReply as Reply } from "./support/legacy-ws.js";

const STEPS = 8;
/** Steps 0..HANDOVER-1 on the first gateway; the rest after it died. */
const HANDOVER = 4;
const MODEL = "tiny-gpt2";

let nats: NatsServer | undefined;
let store: string | undefined;
const processes: CliRun[] = [];
after(async () => {
  for (const p of processes) p.child.kill("SIGKILL");
  await Promise.all(processes.map((p) => p.exited));
  await nats?.stop();
  if (store) rmSync(store, { recursive: true, force: true });
});

/** Runs steps [from, to) of `session` on `conn`, each fed the reply before it; returns the replies. */
async function run(conn: LegacyConnection, session: string, from: number, to: number, replies: Reply[]): Promise<Reply[]> {
  for (let step = from; step < to; step++) {
    const reply = await conn.step(session, step, legacyInput(step, replies[step - 1]), MODEL);
    assert.equal(reply.error, undefined, `${session} step ${step}: ${JSON.stringify(reply.error)}`);
    replies[step] = reply;
  }
  return replies;
}

async function ready(node: CliRun): Promise<string> {
  const url = await node.url;
  const http = url.replace(/^ws/, "http");
  for (const deadline = Date.now() + 60_000; (await fetch(`${http}/readyz`)).status !== 200; await sleep(100)) {
    if (Date.now() > deadline) throw new Error(`${url} not ready: ${node.stderr().slice(-1000)}`);
  }
  return url;
}

function gateway(): CliRun {
  const node = startCli(["--role", "gateway", "--nats", nats!.url, "--session-store", "jetstream"]);
  processes.push(node);
  return node;
}

async function worker(id: string): Promise<CliRun> {
  const node = startCli(["--role", "worker", "--nats", nats!.url], { MODELNODE_NODE_ID: id });
  processes.push(node);
  await node.waitForStderr(new RegExp(`model worker ${id} connected`), 60_000);
  return node;
}

async function killed(node: CliRun): Promise<void> {
  node.child.kill("SIGKILL");
  await node.exited;
}

/** The pipeline's counters a gateway reports at /stats. */
async function replays(url: string): Promise<number> {
  const stats = (await (await fetch(`${url.replace(/^ws/, "http")}/stats`)).json()) as { pipeline?: { replays?: number } };
  return stats.pipeline?.replays ?? Number.NaN;
}

let reference: Reply[];
let workers: Map<string, CliRun>;
let gateways: CliRun[];

before(async () => {
  if (skipWithoutNats) return;
  store = mkdtempSync(join(tmpdir(), "modelnode-legacy-failover-"));
  nats = await startNatsServer(undefined, ["-js", "-sd", store]);
  const single = startCli([]);
  processes.push(single);
  workers = new Map([["w1", await worker("w1")], ["w2", await worker("w2")]]);
  gateways = [gateway(), gateway(), gateway()];
  await Promise.all(gateways.map(ready));
  // What a single node gives for the session, undisturbed.
  const conn = await LegacyConnection.open(await ready(single));
  reference = await run(conn, "reference", 0, STEPS, []);
  conn.close();
  await killed(single);
});

const outputs = (replies: Reply[]) => replies.map((r) => r.output_tensors);

test("a session goes on at another gateway: between two live ones, then after its gateway was SIGKILLed; every reply is a single node's", { skip: skipWithoutNats, timeout: 120_000 }, async () => {
  const [a, b] = await Promise.all(gateways.slice(0, 2).map((g) => g.url));
  const replies: Reply[] = [];
  const onA = await LegacyConnection.open(a);
  const onB = await LegacyConnection.open(b);
  await run(onA, "handover", 0, 2, replies);
  // Load-balanced mid-session: B reads A's steps from the bucket; then A finds B's step there.
  await run(onB, "handover", 2, 3, replies);
  await run(onA, "handover", 3, HANDOVER, replies);
  await killed(gateways[0]);
  onA.close();
  // The client reconnects (to B) and sends the next steps: B's own copy is behind, the bucket is not.
  await run(onB, "handover", HANDOVER, STEPS, replies);
  onB.close();
  assert.deepEqual(outputs(replies), outputs(reference));
  assert.equal(await replays(b), 0, "the pinned worker held the cache all along: nothing replayed");
  // A step out of order is still refused, by whichever gateway gets it.
  const late = await LegacyConnection.open(b);
  const stale = await late.step("handover", 2, [1], MODEL);
  assert.equal(stale.error?.code, "STEP_OUT_OF_ORDER");
  late.close();
});

test("the gateway and the session's pinned worker both SIGKILLed: the next gateway replays the history on the other worker; every reply is a single node's", { skip: skipWithoutNats, timeout: 120_000 }, async () => {
  const [b, c] = await Promise.all(gateways.slice(1).map((g) => g.url));
  const replies: Reply[] = [];
  const onB = await LegacyConnection.open(b);
  await run(onB, "replayed", 0, HANDOVER, replies);
  // Which worker holds the session's cache: the record in the bucket says.
  const nc = await connectNats({ servers: nats!.url, name: "failover-test" });
  const record = (await (await JetStreamSessionStore.open(nc, { kind: "jetstream" })).get("replayed"))?.record;
  await nc.close();
  assert.ok(record?.worker && workers.has(record.worker), `the pinned worker: ${JSON.stringify(record)}`);
  assert.equal(record.history.length, HANDOVER);
  await Promise.all([killed(gateways[1]), killed(workers.get(record.worker)!)]);
  onB.close();
  const onC = await LegacyConnection.open(c);
  await run(onC, "replayed", HANDOVER, STEPS, replies);
  onC.close();
  assert.deepEqual(outputs(replies), outputs(reference));
  assert.equal(await replays(c), 1, "the history was replayed once, on the worker left");
});

test("--session-store jetstream: the gateway says where its sessions are; with JetStream off on the server, a startup error naming it", { skip: skipWithoutNats, timeout: 60_000 }, async () => {
  assert.match(gateways[2].stderr(), /connecting to NATS at nats:\/\/\S+ \(the models come from its workers; legacy sessions in the JetStream KV bucket modelnode_sessions\)/);
  const plain = await startNatsServer();
  try {
    const node = startCli(["--role", "gateway", "--nats", plain.url, "--session-store", "jetstream"]);
    processes.push(node);
    assert.equal(await node.exited, 1);
    assert.match(node.stderr(), /startup error: .*sessionStore "jetstream": JetStream is not enabled on the NATS server \(start nats-server with -js/);
  } finally {
    await plain.stop();
  }
});
