// The tokenizer routes on a NATS gateway: the example node in the gateway role (its pipeline only
// forwards, to one ONNX worker process) answers OpenAI's /tokenize (a prompt and a chat) and
// /detokenize, and Anthropic's count_tokens (with tools too) exactly as a single node serving the
// same model does: the worker's pipeline tokenizes, renders the chat template and counts.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { PIPELINE } from "@modelnode/core";
import type { ModelNode } from "@modelnode/core/server";
import { eventually } from "@modelnode/testing";
import { ONNX_WORKER, skipWithoutNats, spawnWorker, startNatsServer, type NatsServer } from "./support/nats.js";
import { startNode } from "./support/node.js";
import { TINY_MODEL_DIR } from "./support/paths.js";

let nats: NatsServer;
let worker: ChildProcess;
let gateway: ModelNode;
let single: ModelNode;
let gatewayBase: string;
let singleBase: string;

before(async () => {
  if (skipWithoutNats) return;
  nats = await startNatsServer();
  worker = await spawnWorker(nats.url, "tok-worker", { NATS_TEST_TOKEN_MS: "0" }, ONNX_WORKER);
  let port: number;
  ({ node: gateway, port } = await startNode({ nodeId: "e2e-nats-tokenize-gateway", role: "gateway", nats: nats.url }));
  gatewayBase = `http://127.0.0.1:${port}`;
  ({ node: single, port } = await startNode({ nodeId: "e2e-nats-tokenize-single", models: { tiny: TINY_MODEL_DIR } }));
  singleBase = `http://127.0.0.1:${port}`;
  const pipeline = gateway.container.resolve(PIPELINE);
  await eventually(() => pipeline.hasModel("tiny"), "the worker's model known to the gateway", 30_000);
});
after(async () => {
  await gateway?.close();
  await single?.close();
  worker?.kill("SIGKILL");
  await nats?.stop();
});

async function post(base: string, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

/** The same request to the gateway and to the single node: both 200, the same body. */
async function same(path: string, body: unknown): Promise<unknown> {
  const [viaGateway, direct] = [await post(gatewayBase, path, body), await post(singleBase, path, body)];
  assert.equal(viaGateway.status, 200, `${path}: ${JSON.stringify(viaGateway.body)}`);
  assert.equal(direct.status, 200, `${path}: ${JSON.stringify(direct.body)}`);
  assert.deepEqual(viaGateway.body, direct.body, path);
  return viaGateway.body;
}

const CHAT = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Say hi." },
];
const TOOLS = [{ name: "get_weather", description: "The weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }];

test("/tokenize (a prompt and a chat) and /detokenize through the gateway: a worker's answers, as a single node's", { skip: skipWithoutNats }, async () => {
  const prompt = (await same("/tokenize", { model: "tiny", prompt: "Hello, world!" })) as { tokens: number[]; count: number };
  assert.ok(prompt.count > 0 && prompt.tokens.length === prompt.count);
  const chat = (await same("/tokenize", { model: "tiny", messages: CHAT })) as { tokens: number[]; count: number };
  assert.ok(chat.count > prompt.count, "the chat template's rendering");
  assert.deepEqual(await same("/detokenize", { model: "tiny", tokens: prompt.tokens }), { prompt: "Hello, world!" });
});

test("Anthropic count_tokens through the gateway: the chat counted by a worker, with the tools it renders", { skip: skipWithoutNats }, async () => {
  const request = { model: "tiny", system: "You are terse.", messages: [{ role: "user", content: "Say hi." }] };
  const plain = (await same("/v1/messages/count_tokens", request)) as { input_tokens: number };
  const withTools = (await same("/v1/messages/count_tokens", { ...request, tools: TOOLS })) as { input_tokens: number };
  assert.ok(withTools.input_tokens > plain.input_tokens, "the tools are rendered too");
  const none = (await same("/v1/messages/count_tokens", { ...request, tools: TOOLS, tool_choice: { type: "none" } })) as { input_tokens: number };
  assert.equal(none.input_tokens, plain.input_tokens, 'tool_choice "none" renders no tools');
  const message = await post(gatewayBase, "/v1/messages", { ...request, max_tokens: 1, temperature: 0 });
  assert.equal(message.status, 200, JSON.stringify(message.body));
  assert.equal((message.body as { usage: { input_tokens: number } }).usage.input_tokens, plain.input_tokens, "as many as a generation's prompt");
});
