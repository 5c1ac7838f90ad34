/**
 * A NATS server restarted while the real tiny ONNX model (models/tiny-gpt2) streams from worker
 * processes: every stream's text is exactly an undisturbed run's (docs/scale-out.md, "NATS server
 * failures"). The fake-engine cases, a cluster of three among them, are in nats-restart.test.ts.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, test } from "node:test";
import { NatsPipeline } from "@modelnode/nats";
import { eventually } from "@modelnode/testing";
import { ONNX_WORKER, skipWithoutNats, spawnWorker, startNatsServer, type NatsServer } from "./support/nats.js";

const PROMPTS = ["Hello, world!", "The quick brown fox jumps over the lazy dog because", "Ünïcödé → 日本語 🙂", "Once upon a time"];

const children: ChildProcess[] = [];
let server: NatsServer | undefined;
let gw: NatsPipeline | undefined;
after(async () => {
  await gw?.close();
  for (const c of children) c.kill("SIGKILL");
  await server?.stop();
});


async function run(pipeline: NatsPipeline, prompt: string): Promise<{ text: string; end: string }> {
  let text = "";
  try {
    for await (const e of pipeline.stream({ modelId: "tiny", prompt, maxTokens: 30, temperature: 0 })) {
      if (e.kind === "text") text += e.text;
      else {
        assert.equal(e.result.text, text);
        assert.equal(e.result.usage.completionTokens, 30);
        return { text, end: "ok" };
      }
    }
  } catch (error) {
    return { text, end: String((error as { code?: string }).code ?? error) };
  }
  return { text, end: "no final reply" };
}

test("the real tiny ONNX model: a single nats-server SIGKILLed and restarted mid-stream, every text exactly the undisturbed one", { skip: skipWithoutNats }, async () => {
  server = await startNatsServer();
  children.push(...(await Promise.all(["x0", "x1"].map((n) => spawnWorker(server!.url, n, { NATS_TEST_TOKEN_MS: "30" }, ONNX_WORKER)))));
  gw = await NatsPipeline.connect({ servers: server.url });
  await eventually(() => gw!.workers().length === 2, "two workers", 15_000);
  const reference = await Promise.all(PROMPTS.map((p) => run(gw!, p)));
  assert.deepEqual(reference.map((r) => r.end), PROMPTS.map(() => "ok"));
  await new Promise((r) => setTimeout(r, 500)); // heartbeats: idle again
  const runs = PROMPTS.map((p) => run(gw!, p));
  await eventually(() => gw!.workers().reduce((n, w) => n + w.inFlight, 0) === PROMPTS.length, "every stream under way", 15_000);
  await new Promise((r) => setTimeout(r, 200));
  await server.stop();
  await new Promise((r) => setTimeout(r, 300));
  server = await startNatsServer(server.port);
  const resumed = await Promise.all(runs);
  for (const [i, r] of resumed.entries()) assert.deepEqual(r, reference[i], `${JSON.stringify(PROMPTS[i])} across the restart`);
});
