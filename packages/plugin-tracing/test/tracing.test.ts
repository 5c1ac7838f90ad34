import { test } from "node:test";
import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { header, TestClient } from "@modelnode/testing";
import { tracingConfigSchema, tracingPlugin } from "../src/index.js";
import { named, PARENT_ID, TRACE_ID, TRACEPARENT, tracedNode } from "./support.js";

test("a WebSocket inference_request: its span (parent from header.traceparent), the generation's, and queue, prefill, decode", async () => {
  const traced = await tracedNode();
  const client = await TestClient.connect(traced.url);
  try {
    const reply = await client.request({ header: header("inference_request", "req-1", { traceparent: TRACEPARENT }), model_id: "fake", prompt: "Hi", max_tokens: 3 });
    assert.equal(reply.finish_reason, "length");
    const spans = await traced.spans((s) => s.some((x) => x.name === "inference_request"));
    const request = named(spans, "inference_request");
    assert.equal(request.kind, SpanKind.SERVER);
    assert.equal(request.spanContext().traceId, TRACE_ID);
    assert.equal(request.parentSpanContext?.spanId, PARENT_ID);
    assert.equal(request.attributes["modelnode.protocol"], "standard");
    assert.equal(request.attributes["modelnode.message.id"], "req-1");
    assert.equal(request.attributes["modelnode.outcome"], "ok");
    assert.equal(request.attributes["gen_ai.request.model"], "fake");
    assert.equal(request.attributes["gen_ai.usage.input_tokens"], 2);
    assert.equal(request.attributes["gen_ai.usage.output_tokens"], 3);
    assert.equal(request.status.code, SpanStatusCode.UNSET);

    const generation = named(spans, "text_completion fake");
    assert.equal(generation.parentSpanContext?.spanId, request.spanContext().spanId);
    assert.equal(generation.spanContext().traceId, TRACE_ID);
    assert.equal(generation.attributes["gen_ai.request.model"], "fake");
    assert.equal(generation.attributes["gen_ai.request.max_tokens"], 3);
    assert.equal(generation.attributes["gen_ai.usage.input_tokens"], 2);
    assert.equal(generation.attributes["gen_ai.usage.output_tokens"], 3);
    assert.deepEqual(generation.attributes["gen_ai.response.finish_reasons"], ["length"]);
    assert.equal(generation.attributes["gen_ai.latency.time_in_queue"], 0.002);
    for (const key of ["gen_ai.latency.time_to_first_token", "gen_ai.latency.time_in_model_prefill", "gen_ai.latency.time_in_model_decode", "gen_ai.latency.e2e"]) {
      assert.equal(typeof generation.attributes[key], "number", key);
    }
    for (const phase of ["queue", "prefill", "decode"]) {
      assert.equal(named(spans, phase).parentSpanContext?.spanId, generation.spanContext().spanId, phase);
    }
    // The phases follow one another inside the generation.
    const ms = (t: [number, number]) => t[0] * 1e3 + t[1] / 1e6;
    assert.ok(ms(named(spans, "queue").endTime) <= ms(named(spans, "prefill").endTime) + 1e-3);
    assert.ok(ms(named(spans, "prefill").endTime) <= ms(named(spans, "decode").startTime) + 1e-3);
    assert.ok(ms(named(spans, "decode").endTime) <= ms(generation.endTime) + 1e-3);
    assert.ok(ms(generation.startTime) <= ms(named(spans, "queue").startTime) + 1e-3);
  } finally {
    await client.close();
    await traced.node.close();
  }
});

test("an HTTP /v1/chat/completions: its span (parent from the traceparent header), HTTP attributes, a chat generation", async () => {
  const traced = await tracedNode();
  try {
    const response = await fetch(`http://127.0.0.1:${traced.port}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: TRACEPARENT, tracestate: "vendor=1" },
      body: JSON.stringify({ model: "fake", messages: [{ role: "user", content: "Hi" }], max_tokens: 2, stream: true }),
    });
    assert.equal(response.status, 200);
    await response.text();
    const spans = await traced.spans((s) => s.some((x) => x.name === "POST /v1/chat/completions"));
    const request = named(spans, "POST /v1/chat/completions");
    assert.equal(request.parentSpanContext?.spanId, PARENT_ID);
    assert.equal(request.spanContext().traceId, TRACE_ID);
    assert.equal(request.spanContext().traceState?.get("vendor"), "1");
    assert.equal(request.attributes["modelnode.protocol"], "http");
    assert.equal(request.attributes["http.request.method"], "POST");
    assert.equal(request.attributes["url.path"], "/v1/chat/completions");
    assert.equal(request.attributes["modelnode.outcome"], "ok");
    assert.equal(request.attributes["gen_ai.usage.output_tokens"], 2);
    const generation = named(spans, "chat fake");
    assert.equal(generation.parentSpanContext?.spanId, request.spanContext().spanId);
    assert.equal(generation.attributes["gen_ai.operation.name"], "chat");
    assert.equal(generation.attributes["gen_ai.usage.output_tokens"], 2);
    assert.ok(spans.some((s) => s.name === "decode" && s.parentSpanContext?.spanId === generation.spanContext().spanId));
  } finally {
    await traced.node.close();
  }
});

test("outcomes: a refused request's span says its code; without (or with a malformed) traceparent a request starts its own trace", async () => {
  const traced = await tracedNode();
  const client = await TestClient.connect(traced.url);
  try {
    const missing = await client.request({ header: header("inference_request", "bad-model"), model_id: "nope", prompt: "Hi" });
    assert.equal(missing.code, "MODEL_NOT_FOUND");
    const invalid = await client.request({ header: header("inference_request", "bad-input", { traceparent: "00-zz-yy-01" }), prompt: 5 });
    assert.equal(invalid.code, "VALIDATION_FAILED");
    const spans = await traced.spans((s) => s.filter((x) => x.name === "inference_request").length === 2);
    const byId = (id: string) => spans.find((s) => s.attributes["modelnode.message.id"] === id)!;
    for (const [id, code] of [["bad-model", "MODEL_NOT_FOUND"], ["bad-input", "VALIDATION_FAILED"]] as const) {
      const span = byId(id);
      assert.equal(span.attributes["modelnode.outcome"], code);
      assert.equal(span.attributes["error.type"], code);
      assert.equal(span.status.code, SpanStatusCode.ERROR);
      assert.equal(span.parentSpanContext, undefined, `${id} is a root span`);
    }
    // A model the pipeline does not serve gets no generation span (its id is client input).
    assert.ok(!spans.some((s) => s.name.endsWith(" nope")));
  } finally {
    await client.close();
    await traced.node.close();
  }
});

test("a caller's unsampled traceparent is followed: nothing is recorded", async () => {
  const traced = await tracedNode();
  const client = await TestClient.connect(traced.url);
  try {
    await client.request({ header: header("inference_request", "unsampled", { traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` }), model_id: "fake", prompt: "Hi", max_tokens: 1 });
    await client.request({ header: header("inference_request", "sampled"), model_id: "fake", prompt: "Hi", max_tokens: 1 });
    const spans = await traced.spans((s) => s.some((x) => x.attributes["modelnode.message.id"] === "sampled"));
    assert.ok(!spans.some((s) => s.spanContext().traceId === TRACE_ID));
  } finally {
    await client.close();
    await traced.node.close();
  }
});

test("options: an endpoint (or an exporter) is required, and it must be an http(s) URL", () => {
  assert.throws(() => tracingPlugin({}), /tracingPlugin: endpoint must be a URL \(or give an exporter\)/);
  assert.throws(() => tracingPlugin({ endpoint: "ftp://x" }), /tracingPlugin: endpoint must be an http/);
  assert.throws(() => tracingPlugin({ endpoint: "http://x", sampleRatio: 2 }), /sampleRatio/);
  assert.throws(() => tracingPlugin({ endpoint: "http://x", nope: 1 } as never), /unknown option "nope"/);
});

test("tracingConfigSchema (a config file's section): no endpoint is valid (tracing off), defaults filled in, no exporter", () => {
  assert.deepEqual(tracingConfigSchema.parse({}), { serviceName: "modelnode", sampleRatio: 1 });
  assert.deepEqual(tracingConfigSchema.parse({ endpoint: "http://c:4318", serviceName: "n" }), { endpoint: "http://c:4318", serviceName: "n", sampleRatio: 1 });
  assert.equal(tracingConfigSchema.safeParse({ exporter: {} }).success, false);
  assert.equal(tracingConfigSchema.safeParse({ headers: { a: 1 } }).success, false);
});
