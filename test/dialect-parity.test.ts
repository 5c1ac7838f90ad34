// Greedy parity across the doors: the same chat (and the same prompt), at temperature 0 with the
// same max tokens and stop sequence, gives exactly the WebSocket inference_request's text, finish
// reason and token counts through the Ollama API (chat and generate), Anthropic's Messages API and
// the OpenAI API (chat and completions), whole and streamed, each asked through its official client.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
import OpenAI from "openai";
import type { ModelNode } from "@modelnode/core/server";
import { inferenceOverWebSocket, startNode } from "./support/node.js";

const MODEL = "tiny-gpt2";

let node: ModelNode;
let url: string;
let ollama: Ollama;
let anthropic: Anthropic;
let openai: OpenAI;

before(async () => {
  let port: number;
  ({ node, url, port } = await startNode({ nodeId: "e2e-dialect-parity" }));
  const base = `http://127.0.0.1:${port}`;
  ollama = new Ollama({ host: base });
  anthropic = new Anthropic({ baseURL: base, apiKey: "x", maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "x", maxRetries: 0 });
});
after(() => node.close());

interface Outcome {
  text: string;
  /** The WebSocket API's words: "stop" or "length". */
  finish: string;
  promptTokens: number;
  completionTokens: number;
}

const SYSTEM = "You are terse.";
const TURNS = [
  { role: "user" as const, content: "Name three colours." },
  { role: "assistant" as const, content: "Red, green." },
  { role: "user" as const, content: "And one more?" },
];
const CHAT = [{ role: "system" as const, content: SYSTEM }, ...TURNS];
const PROMPT = "Once upon a time";
const MAX = 12;

const anthropicFinish = (reason: string | null) => (reason === "max_tokens" ? "length" : "stop");

/** Every door's answer for a chat at temperature 0, `MAX` tokens, these stop sequences. */
async function chatEverywhere(stop: string[]): Promise<Record<string, Outcome>> {
  const out: Record<string, Outcome> = {};
  const ollamaOptions = { temperature: 0, num_predict: MAX, ...(stop.length ? { stop } : {}) };
  const o = await ollama.chat({ model: MODEL, messages: CHAT, options: ollamaOptions });
  out["ollama chat"] = { text: o.message.content, finish: o.done_reason, promptTokens: o.prompt_eval_count, completionTokens: o.eval_count };
  let text = "";
  for await (const part of await ollama.chat({ model: MODEL, messages: CHAT, options: ollamaOptions, stream: true })) {
    text += part.message.content;
    if (part.done) out["ollama chat, streamed"] = { text, finish: part.done_reason, promptTokens: part.prompt_eval_count, completionTokens: part.eval_count };
  }
  const anthropicRequest = { model: MODEL, max_tokens: MAX, system: SYSTEM, messages: TURNS, ...(stop.length ? { stop_sequences: stop } : {}), ...({ temperature: 0 } as object) };
  for (const [name, message] of [["anthropic", await anthropic.messages.create(anthropicRequest)], ["anthropic, streamed", await anthropic.messages.stream(anthropicRequest).finalMessage()]] as const) {
    const body = message.content.map((block) => (block.type === "text" ? block.text : "")).join("");
    out[name] = { text: body, finish: anthropicFinish(message.stop_reason), promptTokens: message.usage.input_tokens + (message.usage.cache_read_input_tokens ?? 0), completionTokens: message.usage.output_tokens };
  }
  const openaiRequest = { model: MODEL, max_tokens: MAX, temperature: 0, messages: CHAT, ...(stop.length ? { stop } : {}) };
  const c = await openai.chat.completions.create(openaiRequest);
  out["openai chat"] = { text: c.choices[0].message.content ?? "", finish: c.choices[0].finish_reason, promptTokens: c.usage!.prompt_tokens, completionTokens: c.usage!.completion_tokens };
  const stream = await openai.chat.completions.create({ ...openaiRequest, stream: true, stream_options: { include_usage: true } });
  let streamed = "";
  let finish = "";
  let usage: OpenAI.CompletionUsage | undefined | null;
  for await (const chunk of stream) {
    streamed += chunk.choices[0]?.delta.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  out["openai chat, streamed"] = { text: streamed, finish, promptTokens: usage!.prompt_tokens, completionTokens: usage!.completion_tokens };
  return out;
}

function sameAs(expected: Outcome, answers: Record<string, Outcome>): void {
  for (const [door, answer] of Object.entries(answers)) assert.deepEqual(answer, expected, door);
}

test("a chat at temperature 0: every door gives the WebSocket inference_request's text, finish reason and token counts, whole and streamed", async () => {
  const ws = await inferenceOverWebSocket(url, { messages: CHAT, max_tokens: MAX, temperature: 0 });
  assert.ok(ws.text.length > 0);
  const expected: Outcome = { text: ws.text, finish: ws.finish_reason, promptTokens: ws.usage.prompt_tokens, completionTokens: ws.usage.completion_tokens };
  const answers = await chatEverywhere([]);
  assert.equal(Object.keys(answers).length, 6);
  sameAs(expected, answers);

  // A stop sequence the greedy text holds: each door ends the text there, as the WebSocket API does.
  const stop = ws.text.trim().slice(-3);
  const stopped = await inferenceOverWebSocket(url, { messages: CHAT, max_tokens: MAX, temperature: 0, stop: [stop] });
  assert.equal(stopped.finish_reason, "stop");
  assert.ok(stopped.text.length < ws.text.length);
  sameAs({ text: stopped.text, finish: "stop", promptTokens: stopped.usage.prompt_tokens, completionTokens: stopped.usage.completion_tokens }, await chatEverywhere([stop]));
});

test("a prompt at temperature 0: Ollama's /api/generate and OpenAI's completions give the WebSocket inference_request's text and counts", async () => {
  const ws = await inferenceOverWebSocket(url, { prompt: PROMPT, max_tokens: MAX, temperature: 0 });
  const expected: Outcome = { text: ws.text, finish: ws.finish_reason, promptTokens: ws.usage.prompt_tokens, completionTokens: ws.usage.completion_tokens };
  const g = await ollama.generate({ model: MODEL, prompt: PROMPT, raw: true, options: { temperature: 0, num_predict: MAX } });
  const c = await openai.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: MAX, temperature: 0 });
  sameAs(expected, {
    "ollama generate": { text: g.response, finish: g.done_reason, promptTokens: g.prompt_eval_count, completionTokens: g.eval_count },
    "openai completions": { text: c.choices[0].text, finish: c.choices[0].finish_reason, promptTokens: c.usage!.prompt_tokens, completionTokens: c.usage!.completion_tokens },
  });
});
