/**
 * Prefix cache bench (npm run bench:prefix): what automatic prefix caching saves, on the load
 * bench's GPT-2-small-shaped model (generated on first use into models/gpt2-small), through the
 * @modelnode/onnx pipeline (the engine thread; no sockets), with the cache off (the baseline) and
 * on, in one run:
 * - a ~1,000-token shared system prompt with 8 different questions, one after another: time to
 *   first token of each question with the cache off (every prompt prefilled whole) and on (the
 *   first question fills the cache; the next 7 find the system prompt there). Printed: the
 *   medians and their ratio (warm / cold; the target is ≤ 0.15);
 * - a 5-turn chat (the model's chat template, each turn's answer kept in the next turn's
 *   messages): per turn, prompt tokens, tokens the cache served, tokens prefilled, and the tokens
 *   the new turn added (the previous answer's end and the new question) — the target is that
 *   only those are prefilled. `--ids` prints, for each turn, where its prompt's ids part from the
 *   previous prompt's and answer's (what the cache holds): both lists from a few tokens before.
 *
 *   node test/dist/bench/prefix.js [--threads N] [--block 16] [--part system|chat|all] [--ids]
 */
import { join } from "node:path";
import { buildModel, MODEL_PRESETS } from "@modelnode/model-builder";
import { createOnnxPipeline, type OnnxPipeline } from "@modelnode/onnx";
import type { ChatMessage, GenerateRequest, Usage } from "@modelnode/core/pipeline";
import { REPO_ROOT } from "../support/paths.js";

const MODEL_DIR = join(REPO_ROOT, "models", "gpt2-small");
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const THREADS = arg("threads", 0);
const BLOCK = arg("block", 16);
const SYSTEM =
  "You are the support assistant of a company that sells bicycles, spare parts and repairs. Answer politely, in short sentences, and say when you do not know. ".repeat(30);
const QUESTIONS = [
  "How do I fix a flat tyre?",
  "What does a new chain cost?",
  "Are you open on Sundays?",
  "Can I return a helmet I bought last week?",
  "Which bike suits a child of eight?",
  "Do you repair electric bikes?",
  "How often should I oil the chain?",
  "Where is your nearest shop?",
];
const SHOW_IDS = process.argv.includes("--ids");
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];

async function pipelineWith(prefixCache: boolean): Promise<OnnxPipeline> {
  return createOnnxPipeline({
    models: { bench: MODEL_DIR },
    prefixCache,
    prefixCacheBlockTokens: BLOCK,
    ...(THREADS > 0 ? { threads: THREADS } : {}),
  });
}

/** Milliseconds to the first piece of text, and the result's usage. */
async function firstToken(pipeline: OnnxPipeline, request: GenerateRequest): Promise<{ ms: number; cached: number; prompt: number }> {
  const started = performance.now();
  let ms = NaN;
  for await (const event of pipeline.stream(request)) {
    if (event.kind === "text" && Number.isNaN(ms)) ms = performance.now() - started;
    if (event.kind === "done") return { ms: Number.isNaN(ms) ? performance.now() - started : ms, cached: event.result.usage.cachedTokens ?? 0, prompt: event.result.usage.promptTokens };
  }
  throw new Error("no result");
}

async function systemPrompt(): Promise<void> {
  const ask = (question: string): GenerateRequest => ({ modelId: "bench", prompt: `${SYSTEM}\nQuestion: ${question}\nAnswer:`, maxTokens: 4 });
  const cold: number[] = [];
  const off = await pipelineWith(false);
  for (const question of QUESTIONS) cold.push((await firstToken(off, ask(question))).ms);
  await off.close();
  const on = await pipelineWith(true);
  const first = await firstToken(on, ask(QUESTIONS[0]));
  const warm: { ms: number; cached: number; prompt: number }[] = [];
  for (const question of QUESTIONS.slice(1)) warm.push(await firstToken(on, ask(question)));
  await on.close();
  console.log(`\nshared system prompt: ${first.prompt} prompt tokens, 8 questions one after another`);
  console.log(`  cache off: time to first token, median of 8: ${median(cold).toFixed(0)} ms (${cold.map((ms) => ms.toFixed(0)).join(", ")})`);
  console.log(`  cache on:  first question ${first.ms.toFixed(0)} ms (fills the cache); the other 7, median: ${median(warm.map((w) => w.ms)).toFixed(0)} ms (${warm.map((w) => w.ms.toFixed(0)).join(", ")})`);
  console.log(`             cached tokens: ${warm.map((w) => `${w.cached}/${w.prompt}`).join(", ")}`);
  console.log(`  warm / cold: ${(median(warm.map((w) => w.ms)) / median(cold)).toFixed(3)}  (target ≤ 0.15)`);
}

async function chat(): Promise<void> {
  const on = await pipelineWith(true);
  const messages: ChatMessage[] = [{ role: "system", content: SYSTEM.slice(0, 600) }];
  console.log(`\n5-turn chat (cache on; block ${BLOCK} tokens): per turn`);
  console.log("  turn  prompt  cached  prefilled  new-turn tokens  same ids  time to first token");
  let previous: number[] = []; // the previous turn's prompt and generated ids: what the cache holds
  for (const [turn, question] of QUESTIONS.slice(0, 5).entries()) {
    messages.push({ role: "user", content: question });
    const ids = await on.tokenizeChat!("bench", messages);
    let same = 0;
    while (same < Math.min(ids.length, previous.length) && ids[same] === previous[same]) same++;
    const started = performance.now();
    let ms = NaN;
    let text = "";
    const generated: number[] = [];
    let usage: Usage = { promptTokens: 0, completionTokens: 0 };
    for await (const event of on.stream({ modelId: "bench", messages, maxTokens: 24 })) {
      if (event.kind === "text") {
        if (Number.isNaN(ms)) ms = performance.now() - started;
        text += event.text;
        generated.push(...(event.tokenIds ?? []));
      } else usage = event.result.usage;
    }
    const cached = usage.cachedTokens ?? 0;
    const added = usage.promptTokens - previous.length;
    const cells = [turn + 1, usage.promptTokens, cached, usage.promptTokens - cached, turn === 0 ? usage.promptTokens : added, same];
    console.log(`  ${cells.map((cell, i) => String(cell).padStart([4, 6, 6, 9, 15, 8][i])).join("  ")}  ${ms.toFixed(0).padStart(17)} ms`);
    if (SHOW_IDS && turn > 0) await showBoundary(on, previous, ids, same);
    previous = [...ids, ...generated];
    messages.push({ role: "assistant", content: text });
  }
  await on.close();
  console.log("  new-turn tokens: the prompt less the previous turn's prompt and answer; same ids: how far the prompt's ids");
  console.log("  equal the previous prompt's and answer's: what the cache can hold of it (less where the answer's text re-encodes to");
  console.log("  other ids: BPE may merge a random model's tokens differently); cached: those, less the answer's last token");
  console.log("  (sampled, never fed, so not in the cache).");
}

/** Where a turn's prompt parts from the previous turn's prompt and answer: both lists, as ids and text, from 3 tokens before. */
async function showBoundary(pipeline: OnnxPipeline, previous: number[], ids: number[], same: number): Promise<void> {
  const from = Math.max(0, same - 3);
  const show = async (list: number[]) => (await Promise.all(list.map(async (id) => `${id}${JSON.stringify(await pipeline.detokenize("bench", [id]))}`))).join(" ");
  console.log(`        from token ${from}; the ids part at ${same} (the previous turn held ${previous.length}):`);
  console.log(`        previous prompt + answer: … ${await show(previous.slice(from))}`);
  console.log(`        this prompt:              … ${await show(ids.slice(from, Math.max(previous.length, same) + 4))} …`);
}

const started = performance.now();
const { built } = buildModel({ out: MODEL_DIR, model: "gpt2-small", ifMissing: true });
if (built) console.error(`built the bench model (${JSON.stringify(MODEL_PRESETS["gpt2-small"])}) in ${((performance.now() - started) / 1000).toFixed(0)} s`);
const part = process.argv.includes("--part") ? process.argv[process.argv.indexOf("--part") + 1] : "all";
if (part !== "chat") await systemPrompt();
if (part !== "system") await chat();
