/**
 * Gateways sharing legacy step sessions through the JetStream session store, in process (a fake
 * model; the real processes, SIGKILLs and the tiny model: nats-legacy-gateway-failover.test.ts):
 * a gateway that died between a step and its write, a gateway closed gracefully, a session
 * closed on one gateway, and the worker-side id that does not depend on the gateway.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isCodedError, type StepRequest } from "@modelnode/core/pipeline";
import { connectNats, JetStreamSessionStore, NatsPipeline, startWorker, type ModelWorker } from "@modelnode/nats";
import { eventually, FakePipeline } from "@modelnode/testing";
import { skipWithoutNats, startNatsServer, type NatsServer } from "./support/nats.js";

const MODEL = [{ id: "fake", contextLength: 4096, vocabSize: 128, eosTokenIds: [] }];
const INPUTS: (string | number[])[] = ["Hello", [5, 6, 7], "x", [9], "yz", [3, 1]];

let nats: NatsServer | undefined;
let dir: string | undefined;
let worker: ModelWorker | undefined;
let workerPipeline: FakePipeline;
const gateways: NatsPipeline[] = [];
let nc: Awaited<ReturnType<typeof connectNats>> | undefined;
let store: JetStreamSessionStore;

before(async () => {
  if (skipWithoutNats) return;
  dir = mkdtempSync(join(tmpdir(), "modelnode-session-store-"));
  nats = await startNatsServer(undefined, ["-js", "-sd", dir]);
  workerPipeline = new FakePipeline(MODEL);
  worker = await startWorker({ servers: nats.url, pipeline: workerPipeline, name: "w0" });
  nc = await connectNats({ servers: nats.url, name: "store-test" });
  store = await JetStreamSessionStore.open(nc, { kind: "jetstream" });
});

after(async () => {
  for (const g of gateways) await g.close();
  await worker?.drain(100);
  await nc?.close();
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function gateway(name: string): Promise<NatsPipeline> {
  const g = await NatsPipeline.connect({ servers: nats!.url, name, sessionStore: { kind: "jetstream" } });
  gateways.push(g);
  await eventually(() => g.workers().length === 1, `${name} sees the worker`);
  return g;
}

const request = (sessionId: string, step: number): StepRequest => ({ sessionId, modelId: "fake", step, inputIds: INPUTS[step] });

const replays = (g: NatsPipeline) => (g.stats() as unknown as { replays: number }).replays;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(() => "no error", (e) => (isCodedError(e) ? e.code : String(e)));
}

test("the worker-side id is fixed at step 0 and stored: another gateway's steps reach the same cache", { skip: skipWithoutNats }, async () => {
  const [a, b] = [await gateway("gA"), await gateway("gB")];
  const reference = new FakePipeline(MODEL);
  for (let step = 0; step < 4; step++) {
    const on = step % 2 === 0 ? a : b;
    assert.deepEqual(await on.step(request("alternating", step)), await reference.step(request("alternating", step)), `step ${step}`);
  }
  const { record } = (await store.get("alternating"))!;
  assert.equal(record.workerSessionId, "gA/alternating", "the id the first gateway gave it");
  assert.equal(record.history.length, 4);
  assert.equal(record.worker, "w0");
  assert.equal(replays(a) + replays(b), 0, "the worker's cache served every step");
});

test("a gateway died between a step and its write: the next gateway finds the worker a step ahead and replays the history there", { skip: skipWithoutNats }, async () => {
  const [a, b] = [await gateway("gC"), await gateway("gD")];
  const reference = new FakePipeline(MODEL);
  for (let step = 0; step < 3; step++) await reference.step(request("unwritten", step));
  for (let step = 0; step < 3; step++) await a.step(request("unwritten", step));
  // As if gC died after the worker ran step 2 but before it wrote the record: the bucket holds steps 0-1.
  const stored = (await store.get("unwritten"))!;
  await store.put("unwritten", { ...stored.record, history: stored.record.history.slice(0, 2) }, stored.revision);
  // The client got no reply for step 2 and sends it again, to gD.
  const redo = await b.step(request("unwritten", 2));
  const fresh = new FakePipeline(MODEL);
  for (let step = 0; step < 2; step++) await fresh.step(request("unwritten", step));
  assert.deepEqual(redo, await fresh.step(request("unwritten", 2)), "step 2 as an undisturbed session gives it");
  assert.equal(replays(b), 1);
  assert.deepEqual(await b.step(request("unwritten", 3)), await reference.step(request("unwritten", 3)), "and the session goes on");
});

test("a stale copy: the session restarted on another gateway, the next step back on the first continues the new one", { skip: skipWithoutNats }, async () => {
  const [a, b] = [await gateway("gH"), await gateway("gI")];
  for (let step = 0; step < 3; step++) await a.step(request("restarted", step));
  // Restarted on gI with another prompt; gH's copy still holds the old three steps.
  const restart = (step: number): StepRequest => ({ ...request("restarted", step), inputIds: step === 0 ? "Another start" : INPUTS[step] });
  const reference = new FakePipeline(MODEL);
  for (let step = 0; step < 3; step++) assert.deepEqual(await b.step(restart(step)), await reference.step(restart(step)), `gI step ${step}`);
  assert.deepEqual(await a.step(restart(3)), await reference.step(restart(3)), "gH's step 3 continues the restarted session");
  assert.equal((await store.get("restarted"))!.record.history.length, 4);
  assert.deepEqual(await b.step(restart(4)), await reference.step(restart(4)), "and gI goes on after it");
});

test("a gateway closed gracefully leaves its sessions to the others; a session closed on one gateway is gone on all", { skip: skipWithoutNats }, async () => {
  const a = await gateway("gE");
  const b = await gateway("gF");
  const reference = new FakePipeline(MODEL);
  for (let step = 0; step < 2; step++) assert.deepEqual(await a.step(request("kept", step)), await reference.step(request("kept", step)));
  await a.close();
  assert.deepEqual(await b.step(request("kept", 2)), await reference.step(request("kept", 2)), "gF goes on after gE closed");

  const c = await gateway("gG");
  await b.step(request("closed", 0));
  await b.step(request("closed", 1));
  assert.equal(b.closeSession("closed"), true);
  for (const deadline = Date.now() + 5000; (await store.get("closed")) !== undefined; ) {
    assert.ok(Date.now() < deadline, "the record is deleted");
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(await codeOf(c.step(request("closed", 2))), "SESSION_NOT_FOUND");
  await eventually(() => workerPipeline.closed.includes("gF/closed"), "the worker freed its cache");
});
