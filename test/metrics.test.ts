// The example node's GET /metrics (metricsPlugin, right after the pipeline) on the real ONNX
// pipeline with the bundled tiny model: generations, legacy steps and the engine's figures.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import type { ModelNode } from "@modelnode/core/server";
import { header, TestClient } from "@modelnode/testing";
import { eventually, pipelineStats, startNode } from "./support/node.js";

interface MetricFamily {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string> }[];
}
const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => MetricFamily[];

/** A sample's value, read from the text (the parser folds labelled histograms into one sample). */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const own = Object.fromEntries([...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => own[k] === v)) return Number(match[3]);
  }
  return undefined;
}

async function scrape(port: number): Promise<{ text: string; families: Map<string, MetricFamily> }> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  const text = await response.text();
  return { text, families: new Map(parsePrometheus(text).map((f) => [f.name, f])) };
}

let node: ModelNode;
let url: string;
let port: number;

before(async () => {
  ({ node, url, port } = await startNode());
});
after(() => node.close());

test("the example node serves /metrics: a streamed generation's tokens and timings, and the engine's figures", async () => {
  const model = { model: "tiny-gpt2" };
  const client = await TestClient.connect(url);
  try {
    const before = await scrape(port);
    assert.equal(before.families.get("modelnode_num_requests_running")?.type, "GAUGE");
    assert.equal(before.families.get("modelnode_time_to_first_token_seconds")?.type, "HISTOGRAM");
    assert.equal(before.families.get("modelnode_prompt_tokens_total")?.type, "COUNTER");
    assert.ok(before.families.has("modelnode_process_resident_memory_bytes"));
    assert.equal(value(before.text, "modelnode_time_to_first_token_seconds_count", model), undefined);

    client.send({ header: header("inference_request", "m-1"), model_id: "tiny-gpt2", prompt: "Once upon a time", max_tokens: 16, stream: true });
    const { chunks, final } = await client.untilFinal();
    assert.equal(final.header.message_type, "inference_response");
    assert.ok(chunks.length >= 2, "a few pieces of text");
    const usage = final.usage;
    await eventually(() => node.load().inFlight === 0 && pipelineStats(node).generationsInFlight === 0, "the generation to end");

    const after = await scrape(port);
    assert.equal(value(after.text, "modelnode_prompt_tokens_total", model), usage.prompt_tokens);
    assert.equal(value(after.text, "modelnode_generation_tokens_total", model), usage.completion_tokens);
    assert.equal(value(after.text, "modelnode_time_to_first_token_seconds_count", model), 1);
    const intervals = value(after.text, "modelnode_inter_token_latency_seconds_count", model)!;
    assert.ok(intervals >= chunks.length - 1 && intervals <= usage.completion_tokens - 1, `inter-token intervals: ${intervals}`);
    assert.equal(value(after.text, "modelnode_e2e_request_latency_seconds_count", model), 1);
    assert.equal(value(after.text, "modelnode_request_queue_time_seconds_count", model), 1, "the onnx pipeline reports each generation's queue time");
    assert.ok(value(after.text, "modelnode_e2e_request_latency_seconds_sum", model)! > 0);
    assert.equal(value(after.text, "modelnode_request_success_total", { ...model, finished_reason: final.finish_reason }), 1);
    assert.equal(value(after.text, "modelnode_messages_total", { protocol: "standard", type: "inference_request" }), 1);
    // The engine's figures: idle again, and its run counters moved.
    assert.equal(value(after.text, "modelnode_num_requests_running"), 0);
    assert.equal(value(after.text, "modelnode_num_requests_waiting"), 0);
    assert.equal(value(after.text, "modelnode_batch_size"), 0);
    assert.ok(value(after.text, "modelnode_prefill_runs_total")! >= 1);
    assert.ok(value(after.text, "modelnode_decode_runs_total")! >= 1);
    assert.equal(value(after.text, "modelnode_connections"), 1);
  } finally {
    await client.close();
  }
});

test("a whole-reply inference and legacy steps are observed too; cache bytes follow the step session", async () => {
  const model = { model: "tiny-gpt2" };
  const client = await TestClient.connect(url);
  try {
    const start = await scrape(port);
    const ttftBefore = value(start.text, "modelnode_time_to_first_token_seconds_count", model) ?? 0;
    const reply = await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hello", max_tokens: 4 });
    assert.equal(reply.header.message_type, "inference_response");
    const step = await client.request({ session_id: "metrics-1", step: 0, input_tensors: { input_ids: "Hello there" } });
    assert.equal(step.session_id, "metrics-1");

    const metrics = await scrape(port);
    assert.equal(value(metrics.text, "modelnode_time_to_first_token_seconds_count", model), ttftBefore + 1, "generate() gets a time to first token");
    assert.equal(value(metrics.text, "modelnode_step_latency_seconds_count", model), 1);
    assert.equal(value(metrics.text, "modelnode_step_input_tokens_total", model), step.output_tensors.input_ids.length);
    assert.equal(value(metrics.text, "modelnode_step_sessions"), 1);
    assert.ok(value(metrics.text, "modelnode_kv_cache_bytes")! > 0, "the session's cache is held");
    assert.equal(value(metrics.text, "modelnode_messages_total", { protocol: "legacy", type: "legacy" }), 1);
  } finally {
    await client.close();
  }
});

test("metrics: { enabled: false } leaves /metrics out", async () => {
  const off = await startNode({ metrics: { enabled: false } });
  try {
    assert.notEqual((await fetch(`http://127.0.0.1:${off.port}/metrics`)).status, 200);
  } finally {
    await off.node.close();
  }
});
