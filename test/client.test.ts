// @modelnode/client against the real example node (tiny model): streaming and awaiting,
// chat, cancel through an AbortSignal, typed errors, legacy step sessions, heartbeat,
// list_models, state events, and the browser entry with an injected WebSocket.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { ModelNodeClient as BrowserEntryClient, type WebSocketConstructor } from "@modelnode/client";
import { AuthenticationError, ModelNodeClient, ModelNodeError, type ConnectionState } from "@modelnode/client/node";
import { hashLicenseKey } from "@modelnode/plugin-auth";
import { eventually, startNode, type RunningNode } from "./support/node.js";

const MODEL = "tiny-gpt2";
let running: RunningNode;
let client: ModelNodeClient;

const inference = () => running.node.getStats().inference as { in_flight: number; finish_reasons: Record<string, number> };

before(async () => {
  running = await startNode({ limits: { maxTokens: 1000 } });
  client = new ModelNodeClient(running.url, { model: MODEL });
  await client.connect();
});

after(async () => {
  await client?.close();
  await running?.node.close();
});

test("streaming: the pieces concatenate to the final text; awaiting the same request gives the same text", async () => {
  const gen = client.generate({ prompt: "Once upon a time", max_tokens: 12 });
  const pieces: string[] = [];
  for await (const piece of gen) {
    assert.ok(piece.length > 0);
    pieces.push(piece);
  }
  const result = await gen;
  assert.ok(pieces.length > 1, `several pieces (${pieces.length})`);
  assert.equal(pieces.join(""), result.text);
  assert.equal(result.finishReason, "length");
  assert.equal(result.model, MODEL);
  assert.equal(result.usage.completion_tokens, 12);
  assert.ok(result.usage.prompt_tokens > 0);

  // temperature 0 is greedy: the awaited form (no iteration at all) gives the same text.
  const awaited = await client.generate({ prompt: "Once upon a time", max_tokens: 12 });
  assert.equal(awaited.text, result.text);
  const unstreamed = await client.generate({ prompt: "Once upon a time", max_tokens: 12, stream: false });
  assert.equal(unstreamed.text, result.text);
  // Seeded sampling is repeatable too.
  const sampling = { prompt: "Hello", max_tokens: 8, temperature: 1.2, top_p: 0.9, top_k: 40, seed: 42 };
  assert.equal((await client.generate(sampling)).text, (await client.generate(sampling)).text);
});

test("concurrent generations on one connection are correlated by message_id", async () => {
  const prompts = ["The sky", "A river", "Numbers: 1, 2,"];
  const runs = prompts.map(async (prompt) => {
    const gen = client.generate({ prompt, max_tokens: 10 });
    let streamed = "";
    for await (const piece of gen) streamed += piece;
    return { streamed, result: await gen };
  });
  const results = await Promise.all(runs);
  for (const [i, { streamed, result }] of results.entries()) {
    assert.equal(streamed, result.text);
    assert.equal(result.text, (await client.generate({ prompt: prompts[i], max_tokens: 10 })).text, `prompt ${i} gives its own text`);
  }
});

test("chat: messages instead of a prompt; stop sequences pass through", async () => {
  const result = await client.generate({
    messages: [
      { role: "system", content: "You answer briefly." },
      { role: "user", content: "Name a colour." },
    ],
    max_tokens: 6,
  });
  assert.ok(["length", "stop"].includes(result.finishReason));
  assert.ok(result.usage.prompt_tokens > 5, "the rendered chat's tokens");
  const stopped = await client.generate({ prompt: "Once upon a time", max_tokens: 12, stop: result.text.slice(0, 1) || "x" });
  assert.ok(stopped.usage.completion_tokens <= 12);
});

test("cancel through an AbortSignal: inference_cancel goes out, the stream ends with finishReason cancelled, nothing stays in flight", async () => {
  const before = inference().finish_reasons.cancelled ?? 0;
  const controller = new AbortController();
  const gen = client.generate({ prompt: "A long story:", max_tokens: 1000, signal: controller.signal });
  const pieces: string[] = [];
  for await (const piece of gen) {
    pieces.push(piece);
    if (pieces.length === 2) controller.abort();
  }
  const result = await gen;
  assert.equal(result.finishReason, "cancelled");
  assert.ok(result.usage.completion_tokens < 1000);
  assert.ok(result.text.startsWith(pieces.join("")));
  await eventually(() => inference().in_flight === 0, "the node's inference in_flight to be 0");
  assert.equal(inference().finish_reasons.cancelled, before + 1);
  assert.deepEqual(client.pending, { queued: 0, inFlight: 0 });

  // gen.cancel() and leaving the loop early do the same.
  const other = client.generate({ prompt: "Another long story:", max_tokens: 1000 });
  for await (const _ of other) break;
  assert.equal((await other).finishReason, "cancelled");
  await eventually(() => inference().in_flight === 0, "the node's inference in_flight to be 0");
  assert.equal(inference().finish_reasons.cancelled, before + 2);
});

test("typed errors: MODEL_NOT_FOUND with its details, VALIDATION_FAILED with issues, UNKNOWN_MESSAGE_TYPE", async () => {
  const missing = client.generate({ model: "no-such-model", prompt: "Hi" });
  await assert.rejects(missing.result, (error: unknown) => {
    assert.ok(error instanceof ModelNodeError);
    assert.ok(error.is("MODEL_NOT_FOUND"));
    assert.equal(error.details.model_id, "no-such-model");
    assert.deepEqual(error.details.available, [MODEL]);
    assert.equal(error.correlationId, missing.id);
    return true;
  });
  // Iterating a failed generation throws the same error.
  await assert.rejects(async () => {
    for await (const _ of missing) assert.fail("no pieces");
  }, { code: "MODEL_NOT_FOUND" });

  await assert.rejects(client.generate({ prompt: "Hi", max_tokens: 0 }).result, (error: unknown) => {
    assert.ok(error instanceof ModelNodeError && error.is("VALIDATION_FAILED"));
    assert.deepEqual(error.details.issues.map((i) => i.path), ["max_tokens"]);
    return true;
  });
  await assert.rejects(client.generate({ prompt: "Hi", temperature: 5 }), { code: "VALIDATION_FAILED" });
  await assert.rejects(client.request("no_such_type", {}), (error: unknown) => {
    assert.ok(error instanceof ModelNodeError && error.is("UNKNOWN_MESSAGE_TYPE"));
    assert.ok(error.details.supported.includes("inference_request"));
    return true;
  });
  // The connection serves on.
  assert.equal((await client.heartbeat()).status, "healthy");
});

test("legacy session: step(text) then step([id]) track the step number; errors come typed", async () => {
  const session = client.session();
  assert.equal(session.nextStep, 0);
  const first = await session.step("Hello");
  assert.ok(first.input_ids.length > 0);
  assert.equal(first.sequence_length, first.input_ids.length);
  assert.equal(typeof first.next_token_id, "number");
  assert.equal(typeof first.next_token, "string");
  assert.equal(session.nextStep, 1);
  const second = await session.step([first.next_token_id]);
  assert.deepEqual(second.input_ids, [first.next_token_id]);
  assert.equal(second.sequence_length, first.sequence_length + 1);
  assert.equal(session.nextStep, 2);

  // The greedy continuation matches the inference path's greedy text.
  const greedy = await client.generate({ prompt: "Hello", max_tokens: 1 });
  assert.equal(greedy.text, first.next_token);

  await assert.rejects(client.legacyStep({ session_id: "never-started", step: 3, input_tensors: { input_ids: [1] } }), (error: unknown) => {
    assert.ok(error instanceof ModelNodeError && error.is("SESSION_NOT_FOUND"));
    assert.equal(error.sessionId, "never-started");
    assert.equal(error.step, 3);
    return true;
  });
  const stray = client.session();
  await stray.step("Hi");
  await assert.rejects(client.legacyStep({ session_id: stray.id, step: 5, input_tensors: { input_ids: [1] } }), { code: "STEP_OUT_OF_ORDER" });
  assert.equal(stray.nextStep, 1);
});

test("heartbeat and listModels", async () => {
  const ack = await client.heartbeat("client-test");
  assert.equal(ack.header.message_type, "heartbeat_ack");
  assert.equal(ack.worker_id, "client-test");
  assert.equal(ack.status, "healthy");
  assert.deepEqual(ack.models, [MODEL]);
  assert.equal(typeof ack.node_id, "string");
  assert.ok(ack.load.connections >= 1);

  const models = await client.listModels();
  assert.deepEqual(models.map((m) => m.id), [MODEL]);
  assert.ok(models[0].context_length > 0);
  assert.ok(models[0].vocab_size > 0);
});

test("state events from connecting to closed; the node sees the connection go", async () => {
  const states: ConnectionState[] = [];
  const other = new ModelNodeClient(running.url);
  other.on("statechange", (event) => states.push(event.state));
  await other.connect();
  const connections = running.node.getStats().active_connections;
  await other.close();
  assert.deepEqual(states, ["connecting", "open", "closed"]);
  await eventually(() => running.node.getStats().active_connections === connections - 1, "the node to see the close");
});

test("the browser entry (@modelnode/client) with ws injected as its WebSocket", async () => {
  const browser = new BrowserEntryClient(running.url, { WebSocket: WebSocket as unknown as WebSocketConstructor, model: MODEL });
  try {
    const result = await browser.generate({ prompt: "Hi", max_tokens: 3 });
    assert.equal(result.usage.completion_tokens, 3);
  } finally {
    await browser.close();
  }
});

test("authentication: a wrong key is AuthenticationError with attempts_remaining; the right key opens the node", async () => {
  const KEY = "client-test-license-key-0123456789";
  const secured = await startNode({ auth: { required: true, keyHashes: [hashLicenseKey(KEY)] } });
  const c = new ModelNodeClient(secured.url, { model: MODEL });
  try {
    await assert.rejects(c.listModels(), { code: "UNAUTHENTICATED" });
    await assert.rejects(c.authenticate("wrong-key"), (error: unknown) => {
      assert.ok(error instanceof AuthenticationError);
      assert.equal((error.details as { attempts_remaining: number }).attempts_remaining, 4);
      return true;
    });
    const ok = await c.authenticate(KEY);
    assert.match(ok.license_hash, /^lh1\./);
    assert.equal(c.licenseHash, ok.license_hash);
    assert.deepEqual((await c.listModels()).map((m) => m.id), [MODEL]);

    // A license_hash alone (no key in this client) authenticates each request.
    const byHash = new ModelNodeClient(secured.url, { model: MODEL, licenseHash: ok.license_hash });
    try {
      assert.equal((await byHash.generate({ prompt: "Hi", max_tokens: 2 })).usage.completion_tokens, 2);
    } finally {
      await byHash.close();
    }
  } finally {
    await c.close();
    await secured.node.close();
  }
});
