/** A client that goes away cancels its generation; curl reads the stream as any SSE client would. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { request as httpRequest } from "node:http";
import OpenAI from "openai";
import { eventually, sleep } from "@modelnode/testing";
import { serve, sseData } from "./support.js";

type OpenAIStats = { in_flight: number; finish_reasons: Record<string, number> };

test("a streaming client that stops reading (SDK loop left early) cancels the generation", async () => {
  const { client, pipeline, node, close } = await serve();
  pipeline.tokenDelay = () => sleep(10);
  try {
    const stream = await client.completions.create({ model: "fake", prompt: "p", max_tokens: 1000, stream: true });
    let seen = 0;
    for await (const chunk of stream) {
      assert.equal(chunk.choices[0].text, "w0 ");
      seen++;
      break; // the SDK aborts its request: the connection closes
    }
    assert.equal(seen, 1);
    await eventually(() => pipeline.generationsInFlight === 0, "the generation to stop");
    assert.equal(pipeline.requests[0].signal?.aborted, true, "the pipeline saw the request's signal abort");
    await eventually(() => node.getStats().in_flight === 0, "the request to end");
    const stats = node.getStats().openai as OpenAIStats;
    assert.equal(stats.in_flight, 0);
    assert.equal(stats.finish_reasons.cancelled, 1);
  } finally {
    await close();
  }
});

test("a client that disconnects while waiting for a whole (non-streamed) completion cancels it too", async () => {
  const { base, pipeline, node, close } = await serve();
  pipeline.tokenDelay = () => sleep(10);
  try {
    let answered = false;
    const req = httpRequest(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" } }, () => {
      answered = true;
    });
    req.on("error", () => {});
    req.end(JSON.stringify({ model: "fake", messages: [{ role: "user", content: "p" }], max_tokens: 1000 }));
    await eventually(() => pipeline.generationsInFlight === 1, "the generation to start");
    req.destroy();
    await eventually(() => pipeline.generationsInFlight === 0, "the generation to stop");
    assert.equal(pipeline.requests[0].signal?.aborted, true);
    await eventually(() => node.getStats().in_flight === 0, "the request to end");
    assert.equal(answered, false);
    const stats = node.getStats().openai as OpenAIStats;
    assert.deepEqual([stats.in_flight, stats.finish_reasons.cancelled], [0, 1]);
  } finally {
    await close();
  }
});

test("a node that stops waiting for its requests answers them 503 shutting_down: whole, or as a stream's last event", async () => {
  const { client, pipeline, node } = await serve();
  pipeline.tokenDelay = () => sleep(10);
  const whole = client.completions.create({ model: "fake", prompt: "p", max_tokens: 1000 }).then(
    () => assert.fail("a cancelled generation must not be answered as a result"),
    (error: unknown) => error,
  );
  const stream = await client.chat.completions.create({ model: "fake", messages: [{ role: "user", content: "p" }], max_tokens: 1000, stream: true });
  const iterator = stream[Symbol.asyncIterator]();
  assert.deepEqual((await iterator.next()).value?.choices[0].delta, { role: "assistant", content: "" });
  await eventually(() => pipeline.generationsInFlight === 2, "both generations to run");
  const closing = node.close(0); // no grace: in-flight requests are cancelled at once

  const error = (await whole) as InstanceType<typeof OpenAI.APIError>;
  assert.ok(error instanceof OpenAI.InternalServerError, String(error));
  assert.deepEqual([error.status, error.type, error.code], [503, "server_error", "shutting_down"]);
  await assert.rejects(
    (async () => {
      for (let step = await iterator.next(); !step.done; step = await iterator.next());
    })(),
    (e) => e instanceof OpenAI.APIError && e.code === "shutting_down",
  );
  await closing;
});

const hasCurl = !spawnSync("curl", ["--version"], { stdio: "ignore" }).error;

/** Runs curl without blocking the event loop (the node under test lives in this process). */
async function curl(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn("curl", ["-sS", "--max-time", "20", ...args]);
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, out, err };
}

test("curl -N reads the server-sent events: data lines of chat.completion.chunk, then data: [DONE]", { skip: hasCurl ? false : "curl is not installed on this machine" }, async () => {
  const { base, close } = await serve();
  try {
    const body = JSON.stringify({ model: "fake", messages: [{ role: "user", content: "Hi" }], max_tokens: 3, stream: true });
    const url = `${base}/v1/chat/completions`;
    const { code, out, err } = await curl(["-N", "-H", "Content-Type: application/json", "-H", "Authorization: Bearer x", "-d", body, url]);
    assert.equal(code, 0, err);
    const data = sseData(out);
    assert.equal(data[data.length - 1], "[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
    assert.equal(chunks.map((c) => c.choices[0].delta.content ?? "").join(""), "w0 w1 w2 ");
    assert.equal(chunks[chunks.length - 1].choices[0].finish_reason, "length");
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));

    // The headers an SSE client (or a proxy) looks at.
    const head = await curl(["-N", "-D", "-", "-o", "/dev/null", "-H", "Content-Type: application/json", "-d", body, url]);
    assert.equal(head.code, 0, head.err);
    assert.match(head.out, /^HTTP\/1\.1 200/);
    assert.match(head.out, /content-type: text\/event-stream/i);
    assert.match(head.out, /cache-control: no-cache/i);
  } finally {
    await close();
  }
});
