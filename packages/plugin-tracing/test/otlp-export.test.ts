/** The spans reach an OTLP/HTTP receiver (a node:http server on loopback standing in for a collector). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { pipelinePlugin } from "@modelnode/core/server";
import { eventually, FakePipeline, header, LogCapture, sleep, startTestNode, TestClient } from "@modelnode/testing";
import { inferencePlugin } from "@modelnode/plugin-inference";
import { TRACER_PROVIDER, tracesUrl, tracingPlugin } from "../src/index.js";
import { PARENT_ID, TRACE_ID, TRACEPARENT } from "./support.js";

interface Export {
  path: string | undefined;
  headers: IncomingHttpHeaders;
  body: any;
}

/** OTLP/JSON (what @opentelemetry/exporter-trace-otlp-http sends): ids in hex, values typed. */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

test("spans are exported over OTLP/HTTP as JSON to endpoint/v1/traces, with the service name; the last ones when the node closes", async () => {
  const received: Export[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ path: req.url, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const { node, url } = await startTestNode({
    plugins: [pipelinePlugin(new FakePipeline()), tracingPlugin({ endpoint, serviceName: "node-under-test", headers: { "x-api-key": "k" } }), inferencePlugin()],
  });
  try {
    const client = await TestClient.connect(url);
    const reply = await client.request({ header: header("inference_request", "exported", { traceparent: TRACEPARENT }), model_id: "fake", prompt: "Hi", max_tokens: 2 });
    assert.equal(reply.finish_reason, "length");
    await client.close();
  } finally {
    await node.close(); // the batch still held is exported by the close hook
    receiver.close();
  }
  assert.ok(received.length >= 1, "an export arrived");
  const first = received[0];
  assert.equal(first.path, "/v1/traces");
  assert.match(String(first.headers["content-type"]), /application\/json/);
  assert.equal(first.headers["x-api-key"], "k");
  const resources = received.flatMap((r) => r.body.resourceSpans as any[]);
  const service = resources[0].resource.attributes.find((a: any) => a.key === "service.name");
  assert.equal(service.value.stringValue, "node-under-test");
  const spans: OtlpSpan[] = resources.flatMap((r) => r.scopeSpans.flatMap((s: any) => s.spans));
  const request = spans.find((s) => s.name === "inference_request");
  assert.ok(request, `the request's span among ${spans.map((s) => s.name).join(", ")}`);
  assert.equal(request.traceId, TRACE_ID);
  assert.equal(request.parentSpanId, PARENT_ID);
  const outcome = request.attributes.find((a) => a.key === "modelnode.outcome");
  assert.equal(outcome?.value.stringValue, "ok");
  const generation = spans.find((s) => s.name === "text_completion fake");
  assert.equal(generation?.parentSpanId, request.spanId);
  const output = generation?.attributes.find((a) => a.key === "gen_ai.usage.output_tokens");
  assert.equal(Number(output?.value.intValue), 2);
});

test("tracesUrl: a bare endpoint gets /v1/traces, a URL with a path is used as it is", () => {
  assert.equal(tracesUrl("http://collector:4318"), "http://collector:4318/v1/traces");
  assert.equal(tracesUrl("http://collector:4318/"), "http://collector:4318/v1/traces");
  assert.equal(tracesUrl("https://otlp.example/api/traces"), "https://otlp.example/api/traces");
});

test("a collector that refuses the spans is logged once as a warning, and its recovery once as info", async () => {
  let refuse = true;
  let exports = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      exports++;
      // 400 is not retryable: the exporter gives the batch up at once.
      if (refuse) res.writeHead(400, { "content-type": "application/json" }).end('{"code":3,"message":"no"}');
      else res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const logs = new LogCapture();
  const { node, url } = await startTestNode({
    logger: logs.logger,
    plugins: [pipelinePlugin(new FakePipeline()), tracingPlugin({ endpoint }), inferencePlugin()],
  });
  const provider = node.container.resolve(TRACER_PROVIDER);
  const client = await TestClient.connect(url);
  const exported = async (id: string) => {
    await client.request({ header: header("inference_request", id), model_id: "fake", prompt: "Hi", max_tokens: 1 });
    const before = exports;
    // forceFlush rejects when the export fails: the node's own timer-driven exports do not.
    await eventually(() => (provider.forceFlush().catch(() => {}), exports > before), "an export to arrive");
    await sleep(20); // the exporter's callback follows the response
  };
  try {
    await exported("a");
    await exported("b");
    const warnings = logs.matching(/could not export spans/);
    assert.equal(warnings.length, 1, "one warning for two refused batches");
    assert.equal(warnings[0].url, `${endpoint}/v1/traces`);
    assert.equal(logs.matching(/exported again/).length, 0);
    refuse = false;
    await exported("c");
    await eventually(() => logs.matching(/spans are exported again/).length === 1, "the recovery line");
  } finally {
    await client.close();
    await node.close();
    receiver.close();
  }
});
