/**
 * Scale-out, round 2 (docs/scale-out.md): load-aware routing (generations go to the worker with
 * the most free capacity), failure detection by goodbyes and missed heartbeats (a SIGKILLed
 * worker's streams continue well before the stream's own idleMs), and a gateway that starts
 * before any worker (/readyz 503 until a worker announces a model, and again when all are gone).
 * A real nats-server on a free port; workers in this process or as child processes.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { NatsPipeline, startWorker } from "@modelnode/nats";
import { eventually, sleep } from "@modelnode/testing";
import { startCli, type CliRun } from "./support/cli.js";
import { ContinuingFake, expectedText, skipWithoutNats, spawnWorker, startNatsServer, type NatsServer } from "./support/nats.js";

const MODEL = [{ id: "fake", contextLength: 4096, vocabSize: 128, eosTokenIds: [] }];

function slowFake(ms: number) {
  const p = new ContinuingFake(MODEL);
  p.tokenDelay = () => new Promise((r) => setTimeout(r, ms));
  return p;
}

/** A stream's pieces with the time each arrived. */
async function timed(gw: NatsPipeline, prompt: string, maxTokens: number) {
  const pieces: string[] = [];
  const at: number[] = [];
  for await (const e of gw.stream({ modelId: "fake", prompt, maxTokens, temperature: 0 })) {
    if (e.kind === "text") {
      pieces.push(e.text);
      at.push(performance.now());
    }
  }
  return { text: pieces.join(""), at };
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once("exit", () => r()));

describe("NATS routing, failure detection and start order", { skip: skipWithoutNats }, () => {
  let nats: NatsServer;
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats?.stop();
  });

  test("a burst of generations spreads over workers in proportion to their capacity (8/4/4 slots take 6/3/3 of 12)", async () => {
    const caps = [8, 4, 4];
    const pipelines = caps.map(() => slowFake(20));
    // Heartbeats far apart: the burst's spread is the gateway's own count, not a heartbeat racing it.
    const workers = await Promise.all(pipelines.map((pipeline, i) => startWorker({ servers: nats.url, pipeline, name: `cap${i}`, maxInFlight: caps[i], heartbeatMs: 2000 })));
    const gw = await NatsPipeline.connect({ servers: nats.url, memberTtlMs: 10_000 });
    try {
      await eventually(() => gw.workers().length === 3, "three workers");
      const runs = await Promise.all(Array.from({ length: 12 }, (_, i) => timed(gw, `p${i}`, 20)));
      for (const run of runs) assert.equal(run.text, expectedText(20));
      const assigned = workers.map((w) => gw.workerLoads().find((l) => l.worker === w.id)?.assigned);
      assert.deepEqual(assigned, [6, 3, 3], "the gateway's assignments");
      assert.deepEqual(pipelines.map((p) => p.requests.length), [6, 3, 3], "what each worker ran");
      assert.deepEqual(workers.map((w) => gw.workerLoads().find((l) => l.worker === w.id)?.capacity), caps);
    } finally {
      await gw.close();
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  test("SIGKILL a worker mid-stream: its streams continue after its missed heartbeats, long before idleMs", async () => {
    const children = await Promise.all(["hk0", "hk1"].map((n) => spawnWorker(nats.url, n, { NATS_TEST_TOKEN_MS: "10" })));
    // idleMs far away: only the heartbeat check (defaults: 100 ms heartbeats, 2 missed) can explain a quick resume.
    const gw = await NatsPipeline.connect({ servers: nats.url, idleMs: 10_000 });
    try {
      await eventually(() => gw.workers().length === 2, "two workers");
      const runs = Array.from({ length: 4 }, (_, i) => timed(gw, `k${i}`, 100));
      await sleep(300);
      const victim = gw.workerLoads().sort((a, b) => b.inFlight - a.inFlight)[0];
      assert.ok(victim.inFlight > 0, "the victim runs streams");
      const killedAt = performance.now();
      children[Number(victim.worker.slice(2))].kill("SIGKILL");
      const done = await Promise.all(runs);
      for (const run of done) assert.equal(run.text, expectedText(100), "every text is the undisturbed one");
      // Each stream's longest wait for a piece after the kill (from the kill, or from the piece
      // before): the victim's streams wait for the resume. (Pieces already on their way when the
      // worker died may still arrive after the kill on a loaded machine: hence the longest wait.)
      const waits = done.map((r) => {
        let longest = 0;
        r.at.forEach((t, i) => {
          if (t > killedAt) longest = Math.max(longest, t - Math.max(killedAt, i > 0 ? r.at[i - 1] : killedAt));
        });
        return longest;
      });
      assert.ok(done.every((r) => r.at.at(-1)! > killedAt), "every stream went on after the kill");
      const worst = Math.max(...waits);
      console.log(`# kill → the longest wait for a piece after it, per stream: ${waits.map((w) => w.toFixed(0)).join(", ")} ms (idleMs 10000)`);
      assert.ok(worst < 1000, `resumed ${worst.toFixed(0)} ms after the kill`);
      assert.ok((gw.stats() as Record<string, number>).workerFailures >= 1);
      assert.equal(gw.workers().some((w) => w.worker === victim.worker), false, "the dead worker left the membership");
    } finally {
      await gw.close();
      for (const c of children) c.kill("SIGKILL");
      await Promise.all(children.map(exited));
    }
  });

  test("a worker that closes says goodbye: the gateway drops it at once, not after heartbeats time out", async () => {
    const worker = await startWorker({ servers: nats.url, pipeline: slowFake(1), name: "bye0" });
    // Neither the time-to-live nor missed heartbeats can drop it within the test: only the goodbye.
    const gw = await NatsPipeline.connect({ servers: nats.url, memberTtlMs: 600_000, missedHeartbeats: 1e6 });
    try {
      await eventually(() => gw.workers().length === 1, "the worker");
      assert.equal(gw.notReady(), undefined);
      await worker.close();
      await eventually(() => gw.workers().length === 0, "the worker gone", 5000);
      assert.equal(gw.notReady(), "waiting for a worker to announce a model");
    } finally {
      await gw.close();
    }
  });

  test("a gateway started before any worker waits (/readyz 503 naming what for), serves once one announces a model (its /metrics shows the worker), and waits again when it is gone", async () => {
    let cli: CliRun | undefined;
    let worker: ChildProcess | undefined;
    try {
      cli = startCli(["--role", "gateway", "--nats", nats.url], { MODELNODE_LOG_LEVEL: "silent" });
      const base = (await cli.url).replace(/^ws/, "http");
      assert.match(cli.stderr(), /connecting to NATS at nats:\/\/\S+ \(the models come from its workers\)/);
      assert.doesNotMatch(cli.stderr(), /loading models/);
      assert.match(cli.stderr(), /models: none yet, waiting for a worker to announce a model/);
      const readyz = async () => {
        const res = await fetch(`${base}/readyz`);
        return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
      };
      assert.deepEqual(await readyz(), { status: 503, body: { status: "waiting", reason: "waiting for a worker to announce a model" } });
      assert.equal((await fetch(`${base}/livez`)).status, 200, "alive all along");

      worker = await spawnWorker(nats.url, "late0", { NATS_TEST_TOKEN_MS: "1" });
      const until = async (status: number) => {
        const deadline = Date.now() + 10_000;
        while ((await readyz()).status !== status) {
          if (Date.now() > deadline) throw new Error(`/readyz never answered ${status}`);
          await sleep(50);
        }
      };
      await until(200);
      const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "x", maxRetries: 0 });
      const completion = await openai.completions.create({ model: "fake", prompt: "hi", max_tokens: 4 });
      assert.equal(completion.choices[0].text, expectedText(4));
      // The gateway's /metrics: the worker's capacity and the generation it was given.
      const metrics = async () => (await fetch(`${base}/metrics`)).text();
      const text = await metrics();
      assert.match(text, /^modelnode_worker_capacity\{worker="late0"\} 8$/m);
      assert.match(text, /^modelnode_worker_assignments_total\{worker="late0"\} 1$/m);
      assert.match(text, /^modelnode_num_requests_waiting 0$/m);

      worker.kill("SIGKILL");
      await until(503);
      assert.equal((await readyz()).body.reason, "waiting for a worker to announce a model");
      assert.doesNotMatch(await metrics(), /worker="late0"/, "a worker that is gone leaves /metrics");
      assert.equal(cli.child.exitCode, null, "the gateway kept running");
    } finally {
      worker?.kill("SIGKILL");
      if (worker) await exited(worker);
      cli?.child.kill("SIGKILL");
      await cli?.exited;
    }
  });
});
