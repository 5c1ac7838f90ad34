/**
 * A stream survives its gateway's death end to end (docs/scale-out.md, "What survives a
 * gateway's death"): the example node's real processes — a nats-server, a model worker (--role
 * worker, the bundled tiny ONNX model) and gateways (--role gateway) — and @modelnode/client given
 * two gateways' URLs. The gateway serving a long stream is SIGKILLed mid-stream; the client
 * reconnects to the other and resumes the generation from the resume data its chunks carried:
 * the caller gets the undisturbed run's text, every piece once and in order. The same with two
 * independent single nodes (no NATS), and with seeded sampling (the chunks carry the sampler's
 * state, and the resume brings it back).
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ModelNodeClient, type ConnectionState, type GenerateOptions } from "@modelnode/client/node";
import { NatsPipeline } from "@modelnode/nats";
import { eventually, header, sleep, TestClient } from "@modelnode/testing";
import { startCli, type CliRun } from "./support/cli.js";
import { expectedText, skipWithoutNats, spawnWorker, startNatsServer, type NatsServer } from "./support/nats.js";

const TOKENS = 400;
const MODEL = "tiny-gpt2";
const GREEDY: GenerateOptions = { prompt: "Once upon a time", max_tokens: TOKENS, temperature: 0 };
const SEEDED: GenerateOptions = { prompt: "The weather today", max_tokens: TOKENS, temperature: 0.9, top_k: 40, seed: 1234 };
/** Reconnect at once (to the other URL), not after the default backoff. */
const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 200 };

const processes: CliRun[] = [];
let nats: NatsServer | undefined;
after(async () => {
  for (const run of processes) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
  await Promise.all(processes.map((run) => run.exited));
  await nats?.stop();
});

/** The nats-server the NATS cases share, started by the first that needs it. */
async function natsServer(): Promise<NatsServer> {
  nats ??= await startNatsServer();
  return nats;
}

function start(args: string[]): CliRun {
  const run = startCli(args);
  processes.push(run);
  return run;
}

/** A gateway (or single node) ready to generate with the model: listening, and (for a gateway) a worker announced. */
async function ready(run: CliRun): Promise<string> {
  const url = await run.url;
  const client = new ModelNodeClient(url, { reconnect: false });
  try {
    const deadline = Date.now() + 60_000;
    while (!(await client.listModels()).some((m) => m.id === MODEL)) {
      if (Date.now() > deadline) throw new Error(`${url} never served ${MODEL}`);
      await sleep(100);
    }
  } finally {
    await client.close();
  }
  return url;
}

interface Outcome {
  pieces: string[];
  text: string;
  completionTokens: number;
  finishReason: string;
}

/** One undisturbed run. */
async function reference(url: string, options: GenerateOptions): Promise<Outcome> {
  const client = new ModelNodeClient(url, { model: MODEL, reconnect: false });
  try {
    const gen = client.generate(options);
    const pieces: string[] = [];
    for await (const piece of gen) pieces.push(piece);
    const result = await gen;
    return { pieces, text: result.text, completionTokens: result.usage.completion_tokens, finishReason: result.finishReason };
  } finally {
    await client.close();
  }
}

/**
 * The same request through a client given [victim, survivor]: the victim is SIGKILLed once a few
 * pieces have come (the generation still under way), and the client must carry on on the survivor.
 */
async function throughFailure(victim: CliRun, urls: string[], options: GenerateOptions): Promise<Outcome & { states: ConnectionState[]; url: string }> {
  const client = new ModelNodeClient(urls, { model: MODEL, reconnect: FAST_RECONNECT, heartbeatIntervalMs: 500, heartbeatTimeoutMs: 2000 });
  const states: ConnectionState[] = [];
  client.on("statechange", (event) => states.push(event.state));
  try {
    await client.connect();
    assert.equal(client.url, urls[0]);
    const gen = client.generate(options);
    const pieces: string[] = [];
    let killedAt = 0;
    let resumedAfterMs: number | undefined;
    for await (const piece of gen) {
      pieces.push(piece);
      if (pieces.length === 5) {
        assert.equal(gen.done, false, "the generation is still under way when its gateway is killed");
        killedAt = performance.now();
        victim.child.kill("SIGKILL");
      } else if (killedAt > 0 && resumedAfterMs === undefined && states.at(-1) === "open" && states.includes("reconnecting")) {
        resumedAfterMs = performance.now() - killedAt; // the first piece once the new connection is open
      }
    }
    const result = await gen;
    console.log(`SIGKILL → the first piece on the new connection: ${resumedAfterMs?.toFixed(0)} ms (reconnect backoff below ${FAST_RECONNECT.initialDelayMs} ms)`);
    return { pieces, text: result.text, completionTokens: result.usage.completion_tokens, finishReason: result.finishReason, states, url: client.url };
  } finally {
    await client.close();
  }
}

/** Where two texts part (the whole texts are hundreds of tokens: too long to read in a diff). */
function difference(what: string, got: string, expected: string): string {
  let i = 0;
  while (i < got.length && got[i] === expected[i]) i++;
  const around = (text: string) => JSON.stringify(text.slice(Math.max(0, i - 20), i + 30));
  return `${what} differ from the undisturbed text at character ${i} of ${expected.length} (got ${got.length}): ${around(got)} instead of ${around(expected)}`;
}

function assertSameRun(got: Outcome & { states: ConnectionState[]; url: string }, expected: Outcome, survivor: string): void {
  assert.ok(got.states.includes("reconnecting"), `the connection was lost: ${got.states.join(", ")}`);
  assert.equal(got.url, survivor, "it went on on the other URL");
  // Every piece once and in order: joined, they are exactly the undisturbed text, no more, no less.
  assert.ok(got.pieces.join("") === expected.text, difference("the pieces joined", got.pieces.join(""), expected.text));
  assert.ok(got.text === expected.text, difference("the result's text", got.text, expected.text));
  assert.equal(got.finishReason, expected.finishReason);
  assert.equal(got.completionTokens, expected.completionTokens, "usage counts the whole generation");
}

/** Whether a sampled stream's chunks carry the pipeline's sampler state (which makes its resume exact). */
async function carriesSamplerState(url: string): Promise<boolean> {
  const client = await TestClient.connect(url);
  try {
    client.send({ header: header("inference_request"), model_id: MODEL, ...SEEDED, max_tokens: 2, stream: true, resumable: true });
    const { chunks } = await client.untilFinal();
    return chunks.length > 0 && chunks.every((chunk) => typeof chunk.sampler_state === "string");
  } finally {
    await client.close();
  }
}

async function seededCase(victim: CliRun, urls: string[]): Promise<void> {
  assert.ok(await carriesSamplerState(urls[1]), "a sampled stream's chunks carry sampler_state");
  const seeded = await reference(urls[1], SEEDED);
  assertSameRun(await throughFailure(victim, urls, SEEDED), seeded, urls[1]);
}

const cluster: { urlB?: string } = {};

test("NATS: two gateways, the one serving a greedy stream SIGKILLed mid-stream; the client resumes on the other with the undisturbed text", { skip: skipWithoutNats, timeout: 240_000 }, async () => {
  const nats = await natsServer();
  start(["--role", "worker", "--nats", nats.url]);
  const a = start(["--role", "gateway", "--nats", nats.url]);
  const b = start(["--role", "gateway", "--nats", nats.url]);
  const [urlA, urlB] = await Promise.all([ready(a), ready(b)]);
  cluster.urlB = urlB;
  const greedy = await reference(urlB, GREEDY);
  assert.equal(greedy.completionTokens, TOKENS, "a long stream (the tiny model does not stop early on this prompt)");
  assertSameRun(await throughFailure(a, [urlA, urlB], GREEDY), greedy, urlB);
});

test("NATS: the same with seeded sampling: the sampler's state travels in the chunks and the resume", { skip: skipWithoutNats, timeout: 240_000 }, async () => {
  assert.ok(cluster.urlB, "the cluster of the previous test");
  const c = start(["--role", "gateway", "--nats", (await natsServer()).url]);
  await seededCase(c, [await ready(c), cluster.urlB]);
});

const singles: { two?: string } = {};

test("two independent single nodes with the same model: the one serving a greedy stream SIGKILLed mid-stream; the client resumes on the other", { timeout: 240_000 }, async () => {
  const one = start([]);
  const two = start([]);
  const [urlOne, urlTwo] = await Promise.all([ready(one), ready(two)]);
  singles.two = urlTwo;
  const greedy = await reference(urlTwo, GREEDY);
  assertSameRun(await throughFailure(one, [urlOne, urlTwo], GREEDY), greedy, urlTwo);
});

test("two single nodes: the same with seeded sampling", { timeout: 240_000 }, async () => {
  assert.ok(singles.two, "the node of the previous test");
  const three = start([]);
  await seededCase(three, [await ready(three), singles.two]);
});

test("NATS: a gateway given a request with `resume` starts from it, and a worker lost later resumes from the combined state", { skip: skipWithoutNats, timeout: 60_000 }, async () => {
  // A NATS server of its own: the other cases' worker serves another model.
  const own = await startNatsServer();
  const workers = await Promise.all(["rs0", "rs1"].map((name) => spawnWorker(own.url, name, { NATS_TEST_TOKEN_MS: "10" })));
  const gw = await NatsPipeline.connect({ servers: own.url });
  try {
    await eventually(() => gw.workers().length === 2, "two workers");
    // A client received 30 pieces from another gateway; this one continues from them.
    const before = expectedText(30);
    const resume = { generatedIds: Array.from({ length: 30 }, (_, i) => i), deliveredChars: before.length };
    let text = "";
    let killed = false;
    for await (const event of gw.stream({ modelId: "fake", prompt: "r", maxTokens: 100, temperature: 0, resume })) {
      if (event.kind === "text") {
        text += event.text;
        if (!killed && text.length > 30) {
          killed = true;
          const victim = gw.workerLoads().find((load) => load.inFlight > 0)!;
          workers[Number(victim.worker.slice(2))].kill("SIGKILL");
        }
      } else {
        assert.equal(event.result.text, expectedText(100), "the whole generation's text");
        assert.equal(event.result.usage.completionTokens, 100);
      }
    }
    assert.ok(killed);
    assert.equal(text, expectedText(100).slice(before.length), "only what follows the resume, once, in order, across the worker's death");
    assert.ok((gw.stats() as Record<string, number>).workerFailures >= 1, "the worker was lost mid-stream");
  } finally {
    await gw.close();
    for (const worker of workers) worker.kill("SIGKILL");
    await own.stop();
  }
});
