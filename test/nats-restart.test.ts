/**
 * A NATS server's death or restart mid-stream (docs/scale-out.md, "NATS server failures"): a
 * cluster of three real nats-servers (-cluster/-routes on loopback) with the server the gateway,
 * or a busy worker, is connected to SIGKILLed; and a single server killed and restarted on the
 * same port. Core NATS does not redeliver what was in flight, so pieces, acknowledgements and
 * heartbeats are lost; every stream must still end with exactly the undisturbed text (greedy
 * ContinuingFake) or a coded retryable error, never a hang; legacy sessions keep their positions.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, describe, test } from "node:test";
import { isCodedError } from "@modelnode/core/pipeline";
import { NatsPipeline, startWorker } from "@modelnode/nats";
import { eventually, FakePipeline } from "@modelnode/testing";
import { ContinuingFake, expectedText, skipWithoutNats, spawnWorker, startNatsServer } from "./support/nats.js";
import { connectionNames, startNatsCluster, type ClusterMember } from "./support/nats-cluster.js";

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once("exit", () => r()));

const MODEL = [{ id: "fake", contextLength: 4096, vocabSize: 128, eosTokenIds: [] }];
const STREAMS = 8;
const TOKENS = 200;
/** No stream may take longer than this after the kill: past it, it counts as a hang. */
const HANG_MS = 30_000;

function slowFake(ms: number) {
  const p = new ContinuingFake(MODEL);
  p.tokenDelay = () => new Promise((r) => setTimeout(r, ms));
  return p;
}

interface Outcome {
  text: string;
  /** "ok", a coded error's code, "uncoded: …", or "hang". */
  end: string;
  /** When each piece came (ms since the epoch). */
  times: number[];
}

async function run(gw: NatsPipeline, prompt: string): Promise<Outcome> {
  const out: Outcome = { text: "", end: "hang", times: [] };
  const body = (async () => {
    try {
      for await (const e of gw.stream({ modelId: "fake", prompt, maxTokens: TOKENS, temperature: 0 })) {
        if (e.kind === "text") {
          out.text += e.text;
          out.times.push(Date.now());
        } else {
          assert.equal(e.result.text, out.text, "the result's text is the streamed text");
          out.end = "ok";
        }
      }
    } catch (error) {
      out.end = isCodedError(error) ? error.code : `uncoded: ${(error as Error).message}`;
    }
  })();
  await Promise.race([body, new Promise((r) => setTimeout(r, HANG_MS).unref())]);
  return out;
}

/** The longest wait between two pieces of a stream, the later one after `t` (the kill), over the streams: the recovery time. */
function recoveryMs(outcomes: Outcome[], t: number): number {
  let worst = 0;
  for (const o of outcomes) for (let i = 1; i < o.times.length; i++) if (o.times[i] >= t) worst = Math.max(worst, o.times[i] - o.times[i - 1]);
  return worst;
}

/** Every stream ends with exactly the undisturbed text: NATS came back within recoveryMs, so nothing is beyond recovery. */
function check(outcomes: Outcome[], what: string): void {
  const summary = outcomes.map((o) => (o.end === "ok" ? (o.text === expectedText(TOKENS) ? "exact" : `WRONG@${firstDiff(o.text)}`) : o.end));
  console.log(`# ${what}: ${summary.join(" ")}`);
  assert.deepEqual(summary, outcomes.map(() => "exact"), what);
}
const firstDiff = (text: string) => [...text].findIndex((c, i) => c !== expectedText(TOKENS)[i]);

/** The gateway's defaults (idleMs 1.5 s, requestTimeoutMs 2 s, reconnectWaitMs 250 ms): the recovery times printed are an operator's. */
const gatewayOptions = {};

describe("a NATS server's death or restart mid-stream", { skip: skipWithoutNats }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  /** Three routed servers, two worker processes and a gateway, each client given all three URLs. */
  async function cluster(): Promise<{ servers: ClusterMember[]; workers: string[]; gw: NatsPipeline }> {
    const servers = await startNatsCluster(3);
    cleanups.push(() => Promise.all(servers.map((s) => s.stop())));
    const urls = servers.map((s) => s.url);
    const names = [0, 1].map((i) => `c${i}${Math.random().toString(36).slice(2, 6)}`);
    const children = await Promise.all(names.map((n) => spawnWorker(urls.join(","), n, { NATS_TEST_TOKEN_MS: "10" })));
    cleanups.push(async () => {
      for (const c of children) c.kill("SIGKILL");
      await Promise.all(children.map(exited));
    });
    const gw = await NatsPipeline.connect({ servers: urls, ...gatewayOptions });
    cleanups.push(() => gw.close());
    await eventually(() => gw.workers().length === 2, "two workers", 10_000);
    return { servers, workers: names, gw };
  }

  /** The member holding a connection whose name ends with `name`. */
  async function holding(servers: ClusterMember[], name: string): Promise<ClusterMember | undefined> {
    for (const s of servers) if ((await connectionNames(s)).some((c) => c.endsWith(name))) return s;
    return undefined;
  }

  async function underWay(gw: NatsPipeline): Promise<Promise<Outcome>[]> {
    const runs = Array.from({ length: STREAMS }, (_, i) => run(gw, `p${i}`));
    await eventually(() => gw.workers().reduce((n, w) => n + w.inFlight, 0) === STREAMS, "every stream under way", 10_000);
    await new Promise((r) => setTimeout(r, 300));
    return runs;
  }

  const portOf = (hostport: string) => Number(hostport.split(":").at(-1));

  test("cluster of three: the server the gateway is connected to is SIGKILLed", async () => {
    const { servers, gw } = await cluster();
    const runs = await underWay(gw);
    const victim = servers.find((s) => s.port === portOf(gw.natsServer()))!;
    const held = await connectionNames(victim);
    const t = Date.now();
    await victim.stop();
    const outcomes = await Promise.all(runs);
    console.log(`# recovery after the gateway's server died (it held ${held.join(", ")}): ${recoveryMs(outcomes, t)} ms; ${JSON.stringify(gw.stats())}`);
    check(outcomes, "gateway's server killed");
  });

  test("cluster of three: the server a busy worker is connected to is SIGKILLed", async () => {
    const { servers, workers, gw } = await cluster();
    const runs = await underWay(gw);
    const gatewayPort = portOf(gw.natsServer());
    const busy = gw.workers().filter((w) => w.inFlight > 0).map((w) => w.worker);
    const held = await Promise.all(busy.map((w) => holding(servers, w)));
    // A busy worker's server other than the gateway's where there is one (the case the first test leaves out).
    const victim = held.find((s) => s && s.port !== gatewayPort) ?? held.find(Boolean)!;
    assert.ok(victim && workers.length === 2);
    const names = await connectionNames(victim);
    const t = Date.now();
    await victim.stop();
    const outcomes = await Promise.all(runs);
    console.log(`# recovery after a busy worker's server died (it held ${names.join(", ")}): ${recoveryMs(outcomes, t)} ms; ${JSON.stringify(gw.stats())}`);
    check(outcomes, "worker's server killed");
  });

  test("pieces, acknowledgements and the final reply lost in flight are asked for again: the text is exact", async () => {
    const server = await startNatsServer();
    cleanups.push(() => server.stop());
    const worker = await startWorker({ servers: server.url, pipeline: slowFake(2), name: "lossy" });
    cleanups.push(() => worker.close());
    const gw = await NatsPipeline.connect({ servers: server.url, idleMs: 300, requestTimeoutMs: 500, window: 4 });
    cleanups.push(() => gw.close());
    // What a NATS server's death does to core messages in flight: they are gone, without a word.
    const dropped: string[] = [];
    const lossy = (nc: { publish: (subject: string, data?: Uint8Array, options?: unknown) => void }, drop: (m: any) => string | undefined) => {
      const publish = nc.publish.bind(nc);
      nc.publish = (subject, data, options) => {
        const what = data && data.length > 0 ? drop(JSON.parse(new TextDecoder().decode(data))) : undefined;
        if (what && !dropped.includes(what)) return void dropped.push(what);
        publish(subject, data, options);
      };
    };
    lossy(worker.connection as never, (m) => (m.t === "text" && (m.seq === 5 || m.seq === 6) ? `piece ${m.seq}` : m.t === "done" ? "done" : undefined));
    lossy((gw as any).link.connection, (m) => (m.ack >= 10 && m.ack <= 14 && m.resend === undefined ? `ack ${m.ack}` : undefined));
    const outcome = await run(gw, "lossy");
    assert.deepEqual([outcome.end, outcome.text === expectedText(TOKENS)], ["ok", true]);
    assert.deepEqual(dropped.sort(), ["ack 10", "ack 11", "ack 12", "ack 13", "ack 14", "done", "piece 5", "piece 6"]);
    assert.ok((gw.stats() as any).gaps >= 1, "the gap was seen");
    assert.equal((gw.stats() as any).workerFailures, 0, "nothing taken for dead: the worker resent what was lost");
  });

  test("step replies lost in flight: the step is found missing by the ping and run again, positions as a single node's", async () => {
    const server = await startNatsServer();
    cleanups.push(() => server.stop());
    const worker = await startWorker({ servers: server.url, pipeline: slowFake(1), name: "steplossy" });
    cleanups.push(() => worker.close());
    const gw = await NatsPipeline.connect({ servers: server.url, stepIdleMs: 200, requestTimeoutMs: 500 });
    cleanups.push(() => gw.close());
    // Replies go out through the client's protocol handler: drop the first reply to step 0 and to step 2.
    const protocol = (worker.connection as any).protocol;
    const publish = protocol.publish.bind(protocol);
    const dropped: number[] = [];
    protocol.publish = (subject: string, data?: Uint8Array, options?: unknown) => {
      const m = data && data.length > 0 ? JSON.parse(new TextDecoder().decode(data)) : undefined;
      const step = m?.result?.sequenceLength !== undefined ? m.result.step : undefined;
      if (m?.result && !dropped.includes(step ?? -1) && (step === 0 || step === 2)) return void dropped.push(step);
      publish(subject, data, options);
    };
    const reference = new FakePipeline(MODEL);
    const inputs: (string | number[])[] = ["Hello", [5, 6, 7], "x", "yz"];
    for (let n = 0; n < inputs.length; n++) {
      const got = await gw.step({ sessionId: "lossy", modelId: "fake", step: n, inputIds: inputs[n] });
      assert.deepEqual(got, await reference.step({ sessionId: "lossy", modelId: "fake", step: n, inputIds: inputs[n] }), `step ${n}`);
    }
    assert.deepEqual(dropped, [0, 2], "the replies were dropped");
  });

  test("NATS gone for longer than recoveryMs: every stream ends in BUSY (retryable), none hangs", async () => {
    const server = await startNatsServer();
    cleanups.push(() => server.stop());
    const workers = await Promise.all([0, 1].map((i) => startWorker({ servers: server.url, pipeline: slowFake(10), name: `g${i}`, maxInFlight: 8 })));
    cleanups.push(() => Promise.all(workers.map((w) => w.close())));
    const gw = await NatsPipeline.connect({ servers: server.url, idleMs: 300, recoveryMs: 1000 });
    cleanups.push(() => gw.close());
    await eventually(() => gw.workers().length === 2, "two workers", 10_000);
    const runs = await underWay(gw);
    const t = Date.now();
    await server.stop();
    const outcomes = await Promise.all(runs);
    const took = Date.now() - t;
    console.log(`# NATS gone: ${outcomes.map((o) => o.end).join(" ")} after ${took} ms`);
    assert.deepEqual(outcomes.map((o) => o.end), outcomes.map(() => "BUSY"));
    assert.ok(took < 300 + 1000 + 2000, `bounded by idleMs + recoveryMs: ${took} ms`);
    const code = await gw.step({ sessionId: "s", modelId: "fake", step: 0, inputIds: "x" }).then(() => "no error", (e) => (isCodedError(e) ? e.code : String(e)));
    assert.equal(code, "BUSY", "a step while NATS is away");
  });

  test("a single server killed and restarted on the same port mid-stream; a legacy session keeps its position", async () => {
    let server = await startNatsServer();
    cleanups.push(() => server.stop());
    const pipelines = [slowFake(10), slowFake(10)];
    for (const p of pipelines) {
      // Step 2 is answered while the server is down (the reply may be lost with it).
      const step = p.step.bind(p);
      p.step = async (request) => {
        if (request.step === 2) await new Promise((r) => setTimeout(r, 300));
        return step(request);
      };
    }
    const workers = await Promise.all(pipelines.map((pipeline, i) => startWorker({ servers: server.url, pipeline, name: `r${i}`, maxInFlight: 8, heartbeatMs: 200 })));
    cleanups.push(() => Promise.all(workers.map((w) => w.close())));
    const gw = await NatsPipeline.connect({ servers: server.url });
    cleanups.push(() => gw.close());
    await eventually(() => gw.workers().length === 2, "two workers", 10_000);
    const reference = new FakePipeline(MODEL);
    const inputs: (string | number[])[] = ["Hello", [5, 6, 7], "x", "yz"];
    const step = async (n: number) => {
      const got = await gw.step({ sessionId: "sess", modelId: "fake", step: n, inputIds: inputs[n] });
      assert.deepEqual(got, await reference.step({ sessionId: "sess", modelId: "fake", step: n, inputIds: inputs[n] }), `step ${n}`);
    };
    await step(0);
    await step(1);
    const runs = await underWay(gw);
    const stepping = step(2); // in flight across the restart
    await new Promise((r) => setTimeout(r, 50));
    const t = Date.now();
    await server.stop();
    await new Promise((r) => setTimeout(r, 500));
    server = await startNatsServer(server.port);
    const outcomes = await Promise.all(runs);
    console.log(`# recovery after a restart (500 ms down): ${recoveryMs(outcomes, t)} ms; ${JSON.stringify(gw.stats())}`);
    check(outcomes, "single server restarted");
    await stepping;
    await step(3);
  });
});
