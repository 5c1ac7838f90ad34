/** GET /metrics on a real node with the FakePipeline: names, types, labels, and figures that move. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { definePlugin, errors, PIPELINE, type GenerateRequest, type GenerationEvent } from "@modelnode/core";
import { pipelinePlugin, RegistryError } from "@modelnode/core/server";
import { eventually, FakePipeline, header, startTestNode, TestClient } from "@modelnode/testing";
import { metricsOptionsSchema, metricsPlugin, SERVING_METRICS } from "../src/index.js";
import { Gate, generatePlugin, scrape } from "./helpers.js";

/** Every family this plugin adds (without the prefix), its type and its labels. */
const FAMILIES: Record<string, { type: string; labels: string[] }> = {
  prompt_tokens_total: { type: "COUNTER", labels: ["model"] },
  generation_tokens_total: { type: "COUNTER", labels: ["model"] },
  time_to_first_token_seconds: { type: "HISTOGRAM", labels: ["model"] },
  inter_token_latency_seconds: { type: "HISTOGRAM", labels: ["model"] },
  e2e_request_latency_seconds: { type: "HISTOGRAM", labels: ["model"] },
  request_queue_time_seconds: { type: "HISTOGRAM", labels: ["model"] },
  request_success_total: { type: "COUNTER", labels: ["model", "finished_reason"] },
  step_latency_seconds: { type: "HISTOGRAM", labels: ["model"] },
  step_input_tokens_total: { type: "COUNTER", labels: ["model"] },
  num_requests_running: { type: "GAUGE", labels: [] },
  num_requests_waiting: { type: "GAUGE", labels: [] },
  batch_size: { type: "GAUGE", labels: [] },
  kv_cache_bytes: { type: "GAUGE", labels: [] },
  kv_cache_committed_bytes: { type: "GAUGE", labels: [] },
  step_sessions: { type: "GAUGE", labels: [] },
  prefill_runs_total: { type: "COUNTER", labels: [] },
  prefill_rows_total: { type: "COUNTER", labels: [] },
  decode_runs_total: { type: "COUNTER", labels: [] },
  decode_rows_total: { type: "COUNTER", labels: [] },
  step_sessions_expired_total: { type: "COUNTER", labels: [] },
  step_sessions_evicted_total: { type: "COUNTER", labels: [] },
  model_loads_total: { type: "COUNTER", labels: [] },
  model_unloads_total: { type: "COUNTER", labels: [] },
  model_load_failures_total: { type: "COUNTER", labels: [] },
  model_load_seconds_total: { type: "COUNTER", labels: [] },
  models_loaded: { type: "GAUGE", labels: [] },
  models_loaded_bytes: { type: "GAUGE", labels: [] },
  connections: { type: "GAUGE", labels: [] },
  connections_total: { type: "COUNTER", labels: [] },
  requests_in_flight: { type: "GAUGE", labels: [] },
  invalid_messages_total: { type: "COUNTER", labels: [] },
  errors_total: { type: "COUNTER", labels: ["code"] },
  messages_total: { type: "COUNTER", labels: ["protocol", "type"] },
  message_duration_seconds: { type: "HISTOGRAM", labels: ["protocol", "type"] },
};

/** Label names used by a family's samples in the text (parse-prometheus-text-format drops labelled histograms' labels). */
function labelNames(text: string, family: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} /.exec(line);
    if (!match || !(match[1] === family || ["_bucket", "_sum", "_count"].some((s) => match[1] === family + s))) continue;
    for (const [, name] of match[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) if (name !== "le") names.add(name);
  }
  return names;
}

test("GET /metrics serves every family in the Prometheus text format, with bounded labels and the process metrics", async () => {
  const { node, url, port } = await startTestNode({ plugins: [pipelinePlugin(new FakePipeline()), metricsPlugin(), generatePlugin()] });
  const client = await TestClient.connect(url);
  try {
    // Something in each labelled family, so that its labels show.
    const { final } = await client.call("generate", { model_id: "fake", prompt: "hi", max_tokens: 3, stream: true }).then(async (first) => {
      assert.equal(first.header.message_type, "generate_chunk");
      return client.untilFinal("generate_chunk");
    });
    assert.equal(final.finish_reason, "length");
    assert.equal((await client.call("no_such_type")).code, "UNKNOWN_MESSAGE_TYPE");
    await node.container.resolve(PIPELINE).step({ sessionId: "s", modelId: "fake", step: 0, inputIds: [1, 2, 3] });

    const metrics = await scrape(port);
    assert.equal(metrics.status, 200);
    assert.match(metrics.contentType ?? "", /^text\/plain; version=0\.0\.4/);
    for (const [name, expected] of Object.entries(FAMILIES)) {
      const family = metrics.families.get(`modelnode_${name}`);
      assert.ok(family, `modelnode_${name} is served`);
      assert.equal(family.type, expected.type, `modelnode_${name}'s type`);
      assert.ok(family.help.length > 10, `modelnode_${name} has help`);
      const seen = labelNames(metrics.text, `modelnode_${name}`);
      for (const label of seen) assert.ok(expected.labels.includes(label), `modelnode_${name} has no label "${label}"`);
    }
    assert.deepEqual(labelNames(metrics.text, "modelnode_request_success_total"), new Set(["model", "finished_reason"]));
    assert.deepEqual(labelNames(metrics.text, "modelnode_messages_total"), new Set(["protocol", "type"]));
    assert.deepEqual(labelNames(metrics.text, "modelnode_errors_total"), new Set(["code"]));
    // prom-client's process metrics, under the same prefix.
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes"]) {
      assert.ok(metrics.families.has(`modelnode_${name}`), `modelnode_${name} is served`);
    }
    // Every family carries the prefix.
    for (const family of metrics.families.keys()) assert.match(family, /^modelnode_/);

    // HEAD answers too (core serves HEAD for GET routes), without a body.
    const head = await fetch(`http://127.0.0.1:${port}/metrics`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  } finally {
    await client.close();
    await node.close();
  }
});

test("figures move as a streamed generation runs: running, time to first token, inter-token latency, tokens, e2e, messages", async () => {
  const pipeline = new FakePipeline();
  const gate = new Gate();
  let tokens = 0;
  // The first token goes at once; the others wait for the gate (then 2 ms each, so the intervals are measurable).
  pipeline.tokenDelay = async () => {
    if (tokens++ === 0) return;
    await gate.opened;
    await new Promise((resolve) => setTimeout(resolve, 2));
  };
  pipeline.figures = { queuedGenerations: 3, batchSize: 2, cacheBytes: 4096, cacheBytesCommitted: 8192, decodeRuns: 7 };
  const { node, url, port } = await startTestNode({ plugins: [pipelinePlugin(pipeline), metricsPlugin(), generatePlugin()] });
  const client = await TestClient.connect(url);
  try {
    const before = await scrape(port);
    assert.equal(before.value("modelnode_num_requests_running"), 0);
    assert.equal(before.value("modelnode_time_to_first_token_seconds_count", { model: "fake" }), undefined);
    assert.equal(before.value("modelnode_connections"), 1);

    client.send({ header: header("generate", "g-1"), model_id: "fake", prompt: "hello", max_tokens: 5, stream: true });
    const first = await client.next();
    assert.equal(first.text, "w0 ");
    const during = await scrape(port);
    assert.equal(during.value("modelnode_num_requests_running"), 1);
    assert.equal(during.value("modelnode_requests_in_flight"), 1);
    assert.equal(during.value("modelnode_time_to_first_token_seconds_count", { model: "fake" }), 1);
    assert.equal(during.value("modelnode_e2e_request_latency_seconds_count", { model: "fake" }), undefined);
    // The pipeline's other figures, read at scrape time.
    assert.equal(during.value("modelnode_num_requests_waiting"), 3);
    assert.equal(during.value("modelnode_batch_size"), 2);
    assert.equal(during.value("modelnode_kv_cache_bytes"), 4096);
    assert.equal(during.value("modelnode_kv_cache_committed_bytes"), 8192);
    assert.equal(during.value("modelnode_decode_runs_total"), 7);
    assert.equal(during.value("modelnode_messages_total", { protocol: "standard", type: "generate" }), undefined, "counted when it ends");

    gate.open();
    const { chunks, final } = await client.untilFinal("generate_chunk");
    assert.equal(chunks.length, 4);
    assert.equal(final.finish_reason, "length");
    await eventually(() => node.load().inFlight === 0, "the request to end");

    const after = await scrape(port);
    const model = { model: "fake" };
    assert.equal(after.value("modelnode_num_requests_running"), 0);
    assert.equal(after.value("modelnode_prompt_tokens_total", model), 5);
    assert.equal(after.value("modelnode_generation_tokens_total", model), 5);
    assert.equal(after.value("modelnode_time_to_first_token_seconds_count", model), 1);
    assert.equal(after.value("modelnode_inter_token_latency_seconds_count", model), 4);
    assert.ok(after.value("modelnode_inter_token_latency_seconds_sum", model)! >= 4 * 0.0015, "four intervals of about 2 ms");
    assert.equal(after.value("modelnode_e2e_request_latency_seconds_count", model), 1);
    assert.ok(after.value("modelnode_e2e_request_latency_seconds_sum", model)! >= after.value("modelnode_time_to_first_token_seconds_sum", model)!);
    assert.equal(after.value("modelnode_request_success_total", { ...model, finished_reason: "length" }), 1);
    assert.equal(after.value("modelnode_request_queue_time_seconds_count", model), undefined, "the fake reports no queue time");
    assert.equal(after.value("modelnode_messages_total", { protocol: "standard", type: "generate" }), 1);
    assert.equal(after.value("modelnode_message_duration_seconds_count", { protocol: "standard", type: "generate" }), 1);
    assert.equal(after.value("modelnode_connections_total"), 1);

    // Pipeline figures follow the pipeline.
    pipeline.figures = { queuedGenerations: 0, decodeRuns: 9 };
    const later = await scrape(port);
    assert.equal(later.value("modelnode_num_requests_waiting"), 0);
    assert.equal(later.value("modelnode_decode_runs_total"), 9);
  } finally {
    gate.open();
    await client.close();
    await node.close();
  }
});

test("errors are counted by code; an unknown model id never becomes a label; a client leaving mid-stream counts as cancelled", async () => {
  const pipeline = new FakePipeline();
  pipeline.tokenDelay = () => new Promise((resolve) => setTimeout(resolve, 5));
  const { node, url, port } = await startTestNode({ plugins: [pipelinePlugin(pipeline), metricsPlugin(), generatePlugin()] });
  const client = await TestClient.connect(url);
  try {
    assert.equal((await client.call("generate", { model_id: "no-such-model", prompt: "x", max_tokens: 2 })).code, "MODEL_NOT_FOUND");
    assert.equal((await client.call("generate", { model_id: "fake", prompt: 5, max_tokens: 2 })).code, "VALIDATION_FAILED");
    client.send("not json");
    assert.equal((await client.next()).code, "INVALID_JSON");

    const leaving = await TestClient.connect(url);
    leaving.send({ header: header("generate"), model_id: "fake", prompt: "x", max_tokens: 32, stream: true });
    await eventually(() => pipeline.generationsInFlight === 1, "the generation to start");
    await leaving.close();
    await pipeline.ended;
    await eventually(() => node.load().inFlight === 0, "the request to end");

    const metrics = await scrape(port);
    assert.equal(metrics.value("modelnode_errors_total", { code: "MODEL_NOT_FOUND" }), 1);
    assert.equal(metrics.value("modelnode_errors_total", { code: "VALIDATION_FAILED" }), 1);
    assert.equal(metrics.value("modelnode_errors_total", { code: "INVALID_JSON" }), 1);
    assert.equal(metrics.value("modelnode_invalid_messages_total"), 1);
    assert.equal(metrics.value("modelnode_messages_total", { protocol: "standard", type: "generate" }), 3);
    assert.doesNotMatch(metrics.text, /no-such-model/);
    assert.equal(metrics.value("modelnode_request_success_total", { model: "fake", finished_reason: "cancelled" }), 1);
  } finally {
    await client.close();
    await node.close();
  }
});

test("scraping is not a request: no guard runs, and no request counter moves", async () => {
  // A guard that refuses everything (as auth does before sign-in); /metrics still answers.
  const refuseAll = definePlugin({
    name: "refuse-all",
    register: (_container, host) =>
      host.addGuard(() => {
        throw errors.unauthenticated("Nothing gets through.");
      }),
  });
  const { node, port } = await startTestNode({ plugins: [pipelinePlugin(new FakePipeline()), metricsPlugin(), refuseAll] });
  try {
    const before = node.getStats();
    let text = "";
    for (let i = 0; i < 5; i++) {
      const metrics = await scrape(port, "/metrics", { authorization: "Bearer nope" });
      assert.equal(metrics.status, 200);
      text = metrics.text;
    }
    const after = node.getStats();
    assert.equal(after.total_requests, before.total_requests);
    assert.equal(after.http_requests, before.http_requests);
    assert.deepEqual(after.requests_by_type, before.requests_by_type);
    assert.deepEqual(after.errors_by_code, before.errors_by_code);
    assert.doesNotMatch(text, /modelnode_messages_total\{/);
    assert.doesNotMatch(text, /modelnode_errors_total\{/);
  } finally {
    await node.close();
  }
});

test("two nodes in one process each have their own registry and figures", async () => {
  const a = await startTestNode({ plugins: [pipelinePlugin(new FakePipeline()), metricsPlugin(), generatePlugin()] });
  const b = await startTestNode({ plugins: [pipelinePlugin(new FakePipeline()), metricsPlugin(), generatePlugin()] });
  const client = await TestClient.connect(a.url);
  try {
    for (let i = 0; i < 3; i++) assert.equal((await client.call("generate", { model_id: "fake", prompt: "hey", max_tokens: 2 })).finish_reason, "length");
    const fromA = await scrape(a.port);
    const fromB = await scrape(b.port);
    assert.equal(fromA.value("modelnode_generation_tokens_total", { model: "fake" }), 6);
    assert.equal(fromA.value("modelnode_messages_total", { protocol: "standard", type: "generate" }), 3);
    assert.equal(fromA.value("modelnode_connections"), 1);
    assert.equal(fromB.value("modelnode_generation_tokens_total", { model: "fake" }), undefined);
    assert.equal(fromB.value("modelnode_messages_total", { protocol: "standard", type: "generate" }), undefined);
    assert.equal(fromB.value("modelnode_connections"), 0);
    // Both have the process metrics (no "already registered" clash), and neither used the global registry.
    assert.ok(fromA.families.has("modelnode_process_cpu_seconds_total") && fromB.families.has("modelnode_process_cpu_seconds_total"));
    assert.notEqual(a.node.container.resolve(SERVING_METRICS).registry, b.node.container.resolve(SERVING_METRICS).registry);
    const { register } = await import("prom-client");
    assert.equal((await register.getMetricsAsJSON()).length, 0);
  } finally {
    await client.close();
    await a.node.close();
    await b.node.close();
  }
});

test("the instrumented pipeline: generate() and steps are observed, queue time comes from a pipeline that reports it, the rest passes through", async () => {
  class TimedPipeline extends FakePipeline {
    async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
      for await (const event of super.stream(request)) {
        yield event.kind === "done" ? { kind: "done", result: { ...event.result, timings: { queuedMs: 250 } } as never } : event;
      }
    }
  }
  const pipeline = new TimedPipeline();
  const { node, port } = await startTestNode({ plugins: [pipelinePlugin(pipeline), metricsPlugin({ processMetrics: false })] });
  try {
    const bound = node.container.resolve(PIPELINE);
    assert.notEqual(bound, pipeline, "PIPELINE is the instrumented decorator");
    assert.deepEqual(bound.listModels(), pipeline.listModels());
    assert.equal((bound as FakePipeline).requests, pipeline.requests, "the pipeline's own members pass through");
    const result = await bound.generate({ modelId: "fake", prompt: "abc", maxTokens: 3 });
    assert.deepEqual(result, { text: "w0 w1 w2 ", finishReason: "length", usage: { promptTokens: 3, completionTokens: 3 }, timings: { queuedMs: 250 } });
    assert.equal(pipeline.requests.length, 1, "generate() runs one generation");
    await assert.rejects(bound.generate({ modelId: "nope", prompt: "abc" }), { code: "MODEL_NOT_FOUND" });
    await assert.rejects(bound.generate({ modelId: "fake", prompt: "x".repeat(100) }), { code: "CONTEXT_LENGTH_EXCEEDED" });
    await bound.step({ sessionId: "s", modelId: "fake", step: 0, inputIds: "hello" });
    await bound.step({ sessionId: "s", modelId: "fake", step: 1, inputIds: [1] });
    await assert.rejects(bound.step({ sessionId: "s", modelId: "fake", step: 5, inputIds: [1] }), { code: "STEP_OUT_OF_ORDER" });

    const metrics = await scrape(port);
    const model = { model: "fake" };
    assert.equal(metrics.value("modelnode_time_to_first_token_seconds_count", model), 1);
    assert.equal(metrics.value("modelnode_inter_token_latency_seconds_count", model), 2);
    assert.equal(metrics.value("modelnode_request_queue_time_seconds_count", model), 1);
    assert.equal(metrics.value("modelnode_request_queue_time_seconds_sum", model), 0.25);
    assert.equal(metrics.value("modelnode_e2e_request_latency_seconds_count", model), 1, "refusals are not generations");
    assert.equal(metrics.value("modelnode_step_latency_seconds_count", model), 2);
    assert.equal(metrics.value("modelnode_step_input_tokens_total", model), 6);
    assert.ok(!metrics.families.has("modelnode_process_cpu_seconds_total"), "processMetrics: false");
  } finally {
    await node.close();
  }
});

test("the decorator is transparent to code that replaces a pipeline method (as fault-injection tests do)", async () => {
  const pipeline = new FakePipeline();
  const { node } = await startTestNode({ plugins: [pipelinePlugin(pipeline), metricsPlugin({ processMetrics: false })] });
  try {
    const bound = node.container.resolve(PIPELINE);
    const instrumented = bound.generate;
    bound.generate = async () => {
      throw new Error("injected");
    };
    await assert.rejects(bound.generate({ modelId: "fake", prompt: "x" }), /injected/);
    bound.generate = instrumented; // put back
    assert.equal(bound.generate, instrumented);
    assert.ok(!Object.hasOwn(pipeline, "generate"), "the pipeline has its own method back");
    assert.equal((await bound.generate({ modelId: "fake", prompt: "x", maxTokens: 1 })).text, "w0 ");

    // Other methods: the replacement lands on the pipeline itself, so its own callers see it too.
    const close = bound.close;
    let closed = 0;
    bound.close = async () => {
      closed++;
    };
    await pipeline.close();
    assert.equal(closed, 1);
    bound.close = close;
    assert.deepEqual(bound.listModels(), pipeline.listModels());

    // Names the pipeline did not have when it was decorated pass through as well, both ways.
    const loose = bound as unknown as Record<string, unknown>;
    loose.injected = 1;
    assert.equal((pipeline as unknown as Record<string, unknown>).injected, 1);
    (pipeline as unknown as Record<string, unknown>).later = function (this: unknown) {
      return this === pipeline;
    };
    assert.equal((loose.later as () => boolean)(), true, "called on the pipeline itself");
  } finally {
    await node.close();
  }
});

test("stopping a stream early reaches the pipeline at once, even while an event is awaited, and counts as cancelled", async () => {
  let returned = 0;
  class HeldPipeline extends FakePipeline {
    stream(): AsyncIterable<GenerationEvent> {
      let wake: (() => void) | undefined;
      return {
        [Symbol.asyncIterator]: () => ({
          next: () =>
            new Promise<IteratorResult<GenerationEvent>>((resolve) => {
              wake = () => resolve({ done: true, value: undefined });
            }),
          return: async () => {
            returned++;
            wake?.();
            return { done: true, value: undefined };
          },
        }),
      };
    }
  }
  const { node, port } = await startTestNode({ plugins: [pipelinePlugin(new HeldPipeline()), metricsPlugin({ processMetrics: false })] });
  try {
    const iterator = node.container.resolve(PIPELINE).stream({ modelId: "fake", prompt: "x" })[Symbol.asyncIterator]();
    const pending = iterator.next();
    await iterator.return!();
    assert.equal(returned, 1, "return() reached the pipeline without waiting for the pending event");
    assert.deepEqual(await pending, { done: true, value: undefined });
    assert.equal((await scrape(port)).value("modelnode_request_success_total", { model: "fake", finished_reason: "cancelled" }), 1);
  } finally {
    await node.close();
  }
});

test("options: path and prefix; bad options and a misplaced plugin fail composition with a clear message", async () => {
  const { node, port } = await startTestNode({ plugins: [pipelinePlugin(new FakePipeline()), metricsPlugin({ path: "/internal/prom", prefix: "llm_" })] });
  try {
    const metrics = await scrape(port, "/internal/prom");
    assert.equal(metrics.status, 200);
    assert.ok(metrics.families.has("llm_num_requests_running"));
    assert.ok(metrics.families.has("llm_process_cpu_seconds_total"));
    assert.notEqual((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 200);
  } finally {
    await node.close();
  }
  assert.deepEqual(metricsOptionsSchema.parse({}), { path: "/metrics", prefix: "modelnode_", processMetrics: true });
  assert.throws(() => metricsPlugin({ path: "metrics" }), /^TypeError: metricsPlugin: path must be/);
  assert.throws(() => metricsPlugin({ prefix: "9bad-" }), /prefix/);
  assert.throws(() => metricsPlugin({ extra: true } as never), /extra/);
  // Without pipelinePlugin: the plugin dependency check names it.
  await assert.rejects(startTestNode({ plugins: [metricsPlugin()] }), (error: Error) => error instanceof RegistryError && /"pipeline"/.test(error.message));
  // Before pipelinePlugin: there is no pipeline to instrument yet.
  await assert.rejects(startTestNode({ plugins: [metricsPlugin(), pipelinePlugin(new FakePipeline())] }), /must be listed after pipelinePlugin/);
});

test("a pipeline whose stats() throws: /metrics still answers, its figures keep their last values", async () => {
  const pipeline = new FakePipeline();
  pipeline.figures = { queuedGenerations: 2 };
  const { node, port } = await startTestNode({ plugins: [pipelinePlugin(pipeline), metricsPlugin({ processMetrics: false })] });
  try {
    assert.equal((await scrape(port)).value("modelnode_num_requests_waiting"), 2);
    pipeline.failStats = true;
    const metrics = await scrape(port);
    assert.equal(metrics.status, 200);
    assert.equal(metrics.value("modelnode_num_requests_waiting"), 2);
    assert.equal(metrics.value("modelnode_connections"), 0);
  } finally {
    await node.close();
  }
});
