/**
 * `npm run cluster -- --gateways 2` (scripts/cluster.mjs) as an operator runs it: three routed
 * nats-servers with JetStream (a store each, one cluster name), two model workers and two
 * gateways on consecutive ports — the example node's real processes serving the bundled tiny ONNX
 * model — each given all three URLs. The gateways' legacy session bucket is R3 and outlives one
 * server; one server SIGKILLed while 8 greedy streams run through a gateway: gateways and workers
 * reconnect to the others, every stream's text is the undisturbed run's, and a legacy session
 * begun on the first gateway goes on at the second. (The same failure with in-process gateways,
 * fake engines and recovery times: nats-restart.test.ts.)
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import OpenAI from "openai";
import { connectNats } from "@modelnode/nats";
import { eventually, sleep } from "@modelnode/testing";
import { skipWithoutNats } from "./support/nats.js";
import { connectionNames } from "./support/nats-cluster.js";
import { REPO_ROOT } from "./support/paths.js";
import { LegacyConnection, legacyInput, type LegacyReply } from "./support/legacy-ws.js";
import { freePortRun } from "./support/ports.js";

const PROMPTS = ["Hello, world!", "The quick brown fox", "Once upon a time", "Ünïcödé → 日本語", "In the beginning", "1, 2, 3,", "Dear Sir or Madam,", "The weather today"];
const TOKENS = 400;

let cluster: ChildProcess | undefined;
/** Every process the script started (it prints their pids): killed at the end whatever happened. */
const pids: number[] = [];
let nc: Awaited<ReturnType<typeof connectNats>> | undefined;
after(async () => {
  await nc?.close();
  if (cluster && cluster.exitCode === null) {
    cluster.kill("SIGTERM");
    await Promise.race([new Promise((r) => cluster!.once("exit", r)), sleep(20_000)]);
    cluster.kill("SIGKILL");
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
});

/** The client connection names each monitoring port's server holds now. */
const namesOn = (monitors: number[]) => Promise.all(monitors.map((monitor) => connectionNames({ monitor })));

interface Run {
  text: string;
  /** When each chunk came. */
  times: number[];
  error?: string;
}

async function stream(client: OpenAI, prompt: string, runs: Run[]): Promise<Run> {
  const run: Run = { text: "", times: [] };
  runs.push(run);
  try {
    const chunks = await client.completions.create({ model: "tiny-gpt2", prompt, max_tokens: TOKENS, temperature: 0, stream: true });
    for await (const chunk of chunks) {
      run.text += chunk.choices[0]?.text ?? "";
      run.times.push(Date.now());
    }
  } catch (error) {
    run.error = String(error);
  }
  return run;
}

/** Steps [from, to) of a legacy session on `url`, each fed the reply before it. */
async function legacySteps(url: string, session: string, from: number, to: number, replies: LegacyReply[]): Promise<LegacyReply[]> {
  const conn = await LegacyConnection.open(url);
  try {
    for (let step = from; step < to; step++) {
      replies[step] = await conn.step(session, step, legacyInput(step, replies[step - 1]), "tiny-gpt2");
      assert.equal(replies[step].error, undefined, `${session} step ${step}: ${JSON.stringify(replies[step].error)}`);
    }
  } finally {
    conn.close();
  }
  return replies;
}

test("npm run cluster -- --gateways 2: three nats-servers with JetStream; one SIGKILLed mid-stream, every text exactly the undisturbed one, a legacy session goes on at the other gateway", { skip: skipWithoutNats, timeout: 170_000 }, async () => {
  const gatewayPort = await freePortRun(2);
  const gatewayUrls = [0, 1].map((i) => `ws://127.0.0.1:${gatewayPort + i}`);
  const clientBase = await freePortRun(3, [gatewayPort, gatewayPort + 1]);
  const routeBase = await freePortRun(3, [gatewayPort, gatewayPort + 1, clientBase, clientBase + 1, clientBase + 2]);
  const taken = [gatewayPort, gatewayPort + 1, ...[clientBase, routeBase].flatMap((b) => [b, b + 1, b + 2])];
  const monitorBase = await freePortRun(3, taken);
  const monitors = [0, 1, 2].map((i) => monitorBase + i);
  const store = mkdtempSync(join(tmpdir(), "modelnode-cluster-test-"));
  const args = ["scripts/cluster.mjs", "--skip-build", "--workers", "2", "--gateways", "2", "--port", String(gatewayPort), "--nats-port", String(clientBase)];
  args.push("--nats-cluster-port", String(routeBase), "--nats-monitor-port", String(monitorBase), "--nats-store", store);
  cluster = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, MODELNODE_LOG_LEVEL: "silent" } });
  let stderr = "";
  const natsPids: number[] = [];
  cluster.stderr!.on("data", (d) => {
    stderr += d;
    for (const m of String(d).matchAll(/\[cluster\] (nats-\d+): \S+ \(pid (\d+)|\[cluster\] (?:worker-\d+|gateway-\d+): pid (\d+)/g)) {
      if (m[1]) natsPids.push(Number(m[2]));
      pids.push(Number(m[2] ?? m[3]));
    }
  });
  await eventually(() => (stderr.match(/model node \S+ listening on/g) ?? []).length === 2, () => `both gateways listening: ${stderr.slice(-2000)}`, 120_000);
  assert.ok(stderr.includes(`[cluster] gateways: ${gatewayUrls.join(", ")} (legacy sessions in the JetStream KV bucket modelnode_sessions, 3 replica(s))`), stderr.slice(-2000));
  assert.match(stderr, /\[cluster\] NATS ready: 3 server\(s\), routed, JetStream meta leader elected/);
  assert.equal(natsPids.length, 3);
  const urls = [0, 1, 2].map((i) => `nats://127.0.0.1:${clientBase + i}`);

  // JetStream replicated: the gateways' legacy session bucket, R3 (they open it while they start).
  nc = await connectNats({ servers: urls, name: "cluster-test" });
  const jsApi = async (subject: string, body?: object) => JSON.parse(new TextDecoder().decode((await nc!.request(subject, body ? JSON.stringify(body) : "", { timeout: 10_000 })).data));
  let bucket: { error?: unknown; config?: { num_replicas: number }; cluster?: { replicas?: unknown[] } } = {};
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200)) {
    bucket = await jsApi("$JS.API.STREAM.INFO.KV_modelnode_sessions");
    if (bucket.error === undefined) break;
  }
  assert.equal(bucket.error, undefined, JSON.stringify(bucket.error));
  assert.equal(bucket.config!.num_replicas, 3);
  assert.equal(bucket.cluster!.replicas!.length, 2, "a leader and two replicas");
  // A legacy session's first steps on the first gateway (and the whole of it, undisturbed, for reference).
  const legacyReference = await legacySteps(gatewayUrls[0], "reference", 0, 4, []);
  const legacy = await legacySteps(gatewayUrls[0], "across", 0, 2, []);

  const client = new OpenAI({ baseURL: `http://127.0.0.1:${gatewayPort}/v1`, apiKey: "none", maxRetries: 0, timeout: 120_000 });
  const reference = await Promise.all(PROMPTS.map((p) => stream(client, p, [])));
  for (const r of reference) assert.ok(!r.error && r.text.length > 0, r.error);

  const runs: Run[] = [];
  const disturbed = Promise.all(PROMPTS.map((p) => stream(client, p, runs)));
  await eventually(() => runs.length === PROMPTS.length && runs.every((r) => r.times.length > 0), "every stream under way", 60_000);
  // The server the gateway is connected to: its death disturbs the most (the gateway and any worker there reconnect).
  const held = await namesOn(monitors);
  const victim = held.findIndex((names) => names.some((n) => n.startsWith("modelnode-gateway-")));
  assert.ok(victim >= 0, `the gateway's server: ${JSON.stringify(held)}`);
  const killedAt = Date.now();
  process.kill(natsPids[victim], "SIGKILL");
  const outcomes = await disturbed;
  const midStream = outcomes.filter((r) => r.times.some((t) => t > killedAt)).length;
  // Recovery: the longest wait between two chunks of a stream, the later one after the kill, over the streams.
  const recovery = Math.max(0, ...outcomes.flatMap((r) => r.times.slice(1).map((t, i) => (t > killedAt ? t - r.times[i] : 0))));
  console.log(`# killed nats-${victim} (it held ${held[victim].join(", ")}); ${midStream}/${outcomes.length} streams were still running; recovery ${recovery} ms`);
  assert.ok(midStream > 0, "the kill happened mid-stream");
  for (const [i, r] of outcomes.entries()) {
    assert.equal(r.error, undefined, `${PROMPTS[i]}: ${r.error}`);
    assert.equal(r.text, reference[i].text, `${JSON.stringify(PROMPTS[i])}: the text across the failure is the undisturbed one`);
  }

  // Gateways and both workers are on the two servers left; the R3 bucket still answers (two of three replicas: a quorum).
  const survivors = monitors.filter((_, i) => i !== victim);
  const reconnected = async () => (await namesOn(survivors)).flat().filter((n) => /^modelnode-(gateway|worker)-/.test(n)).length;
  for (const deadline = Date.now() + 20_000; (await reconnected()) < 4 && Date.now() < deadline; ) await sleep(200);
  assert.equal(await reconnected(), 4, "both gateways and both workers reconnected to the servers left");
  // The stream's leader may have been on the dead server: its replicas elect another (seconds), and
  // this test's own connection may be reconnecting; until then a request times out or says so.
  let info: { error?: unknown } | undefined;
  for (const deadline = Date.now() + 40_000; Date.now() < deadline; await sleep(500)) {
    info = await jsApi("$JS.API.STREAM.INFO.KV_modelnode_sessions").catch((error: Error) => ({ error: error.message }));
    if (info!.error === undefined) break;
  }
  assert.equal(info!.error, undefined, JSON.stringify(info!.error));
  await nc.close();
  nc = undefined;
  // The legacy session goes on at the second gateway, from the bucket, as if nothing had happened.
  await legacySteps(gatewayUrls[1], "across", 2, 4, legacy);
  assert.deepEqual(legacy.map((r) => r.output_tensors), legacyReference.map((r) => r.output_tensors));

  // Ctrl-C's path: the gateways stop, the workers drain, the servers left stop; exit 0.
  cluster.kill("SIGTERM");
  const code = await new Promise((r) => cluster!.once("exit", r));
  assert.equal(code, 0, stderr.slice(-2000));
});
