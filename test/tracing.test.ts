// OpenTelemetry traces from the example node's command line, end to end: `--otlp-traces-endpoint`
// pointed at a stand-in collector on loopback (support/otlp-receiver.ts); a streamed WebSocket
// inference_request (traceparent in its header) and an OpenAI /v1/chat/completions (the
// traceparent HTTP header) on the real ONNX pipeline give spans in their callers' traces, with
// the generation's queue, prefill and decode, and the token counts the replies reported. The
// spans still batched when SIGTERM arrives are exported before the process exits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { header, TestClient } from "@modelnode/testing";
import { startCli } from "./support/cli.js";
import { startOtlpReceiver, type ReceivedSpan } from "./support/otlp-receiver.js";

const WS_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const WS_PARENT = "00f067aa0ba902b7";
const HTTP_TRACE = "0af7651916cd43dd8448eb211c80319c";
const HTTP_PARENT = "b7ad6b7169203331";
/** OTLP's SpanKind numbers. */
const SERVER = 2;
const INTERNAL = 1;

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

function only(spans: ReceivedSpan[], what: string, match: (s: ReceivedSpan) => boolean): ReceivedSpan {
  const found = spans.filter(match);
  assert.equal(found.length, 1, `one ${what} among ${spans.map((s) => `${s.name} (${s.traceId})`).join(", ")}`);
  return found[0];
}

const start = (s: ReceivedSpan) => BigInt(s.startTimeUnixNano);
const end = (s: ReceivedSpan) => BigInt(s.endTimeUnixNano);
const seconds = (s: ReceivedSpan) => Number(end(s) - start(s)) / 1e9;

/** The request's generation (its one child) and the generation's queue, prefill and decode, in order, with the reply's token counts. */
function checkGeneration(spans: ReceivedSpan[], request: ReceivedSpan, name: string, usage: Usage, maxTokens: number): void {
  const generation = only(spans, name, (s) => s.parentSpanId === request.spanId);
  assert.equal(generation.name, name);
  assert.equal(generation.kind, INTERNAL);
  assert.equal(generation.traceId, request.traceId);
  const a = generation.attributes;
  assert.equal(a["gen_ai.request.model"], "tiny-gpt2");
  assert.equal(a["gen_ai.request.max_tokens"], maxTokens);
  assert.equal(a["gen_ai.usage.input_tokens"], usage.prompt_tokens);
  assert.equal(a["gen_ai.usage.output_tokens"], usage.completion_tokens);
  assert.ok(usage.completion_tokens > 0 && usage.prompt_tokens > 0, JSON.stringify(usage));
  // The request's span carries the sums of its generations' counts.
  assert.equal(request.attributes["gen_ai.usage.input_tokens"], usage.prompt_tokens);
  assert.equal(request.attributes["gen_ai.usage.output_tokens"], usage.completion_tokens);

  const phase = (p: string) => only(spans, `${p} of ${name}`, (s) => s.name === p && s.parentSpanId === generation.spanId);
  const [queue, prefill, decode] = [phase("queue"), phase("prefill"), phase("decode")];
  // One after another inside the generation (times are taken from one clock reading: exact).
  assert.ok(start(generation) <= start(queue), "the queue starts with the generation");
  assert.ok(end(queue) <= start(prefill) && end(prefill) <= start(decode) && end(decode) <= end(generation), "queue, prefill, decode in order");
  assert.ok(end(decode) > start(decode), "decoding takes time");
  // The latency attributes (seconds, as vLLM's) are the phases' lengths.
  const close = (attribute: string, span: ReceivedSpan) => {
    const value = a[attribute];
    assert.equal(typeof value, "number", attribute);
    assert.ok(Math.abs((value as number) - seconds(span)) < 1e-5, `${attribute} ${String(value)} vs ${span.name} ${seconds(span)}`);
  };
  close("gen_ai.latency.time_in_queue", queue);
  close("gen_ai.latency.time_in_model_prefill", prefill);
  close("gen_ai.latency.time_in_model_decode", decode);
  close("gen_ai.latency.e2e", generation);
  assert.ok(Math.abs((a["gen_ai.latency.time_to_first_token"] as number) - Number(start(decode) - start(generation)) / 1e9) < 1e-5);
}

test("the example node with --otlp-traces-endpoint: a WebSocket request and an OpenAI HTTP request are traced in their callers' traces, exported over OTLP/HTTP", async () => {
  const receiver = await startOtlpReceiver();
  const cli = startCli(["--otlp-traces-endpoint", receiver.endpoint, "--otlp-service-name", "e2e-traced"]);
  let ws: { chunks: unknown[]; final: { usage: Usage; finish_reason: string } };
  let chat: { usage: Usage };
  try {
    const url = await cli.url;
    await cli.waitForStderr(/traces: OTLP\/HTTP to http:\/\/127\.0\.0\.1:\d+\/v1\/traces \(service\.name e2e-traced\)/);
    const client = await TestClient.connect(url);
    client.send({
      header: header("inference_request", "ws-1", { traceparent: `00-${WS_TRACE}-${WS_PARENT}-01` }),
      model_id: "tiny-gpt2",
      prompt: "Once upon a time",
      max_tokens: 8,
      stream: true,
    });
    ws = await client.untilFinal();
    assert.equal(ws.final.finish_reason, "length", JSON.stringify(ws.final));
    assert.ok(ws.chunks.length > 0);
    await client.close();

    const response = await fetch(`http://127.0.0.1:${new URL(url).port}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${HTTP_TRACE}-${HTTP_PARENT}-01` },
      body: JSON.stringify({ model: "tiny-gpt2", messages: [{ role: "user", content: "Say something." }], max_tokens: 6 }),
    });
    assert.equal(response.status, 200);
    chat = (await response.json()) as { usage: Usage };
    // Nothing is exported yet (a batch goes every 5 s): SIGTERM's close hook sends what is held.
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0, cli.stderr());
  } finally {
    cli.child.kill("SIGKILL");
    await receiver.close();
  }

  const { spans } = receiver;
  assert.ok(receiver.requests.every((r) => r.path === "/v1/traces"));
  assert.ok(spans.length > 0, "spans were exported");
  for (const span of spans) {
    assert.equal(span.resource["service.name"], "e2e-traced");
    assert.ok([WS_TRACE, HTTP_TRACE].includes(span.traceId), `${span.name} is in one of the two traces`);
  }

  const wsRequest = only(spans, "WebSocket request span", (s) => s.name === "inference_request");
  assert.equal(wsRequest.traceId, WS_TRACE);
  assert.equal(wsRequest.parentSpanId, WS_PARENT);
  assert.equal(wsRequest.kind, SERVER);
  assert.equal(wsRequest.attributes["modelnode.protocol"], "standard");
  assert.equal(wsRequest.attributes["modelnode.message.id"], "ws-1");
  assert.equal(wsRequest.attributes["modelnode.outcome"], "ok");
  checkGeneration(spans.filter((s) => s.traceId === WS_TRACE), wsRequest, "text_completion tiny-gpt2", ws.final.usage, 8);

  const httpRequest = only(spans, "HTTP request span", (s) => s.name === "POST /v1/chat/completions");
  assert.equal(httpRequest.traceId, HTTP_TRACE);
  assert.equal(httpRequest.parentSpanId, HTTP_PARENT);
  assert.equal(httpRequest.kind, SERVER);
  assert.equal(httpRequest.attributes["modelnode.protocol"], "http");
  assert.equal(httpRequest.attributes["http.request.method"], "POST");
  assert.equal(httpRequest.attributes["url.path"], "/v1/chat/completions");
  assert.equal(httpRequest.attributes["modelnode.outcome"], "ok");
  checkGeneration(spans.filter((s) => s.traceId === HTTP_TRACE), httpRequest, "chat tiny-gpt2", chat.usage, 6);
});
