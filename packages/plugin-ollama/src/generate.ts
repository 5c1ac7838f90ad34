/**
 * Runs one /api/generate or /api/chat request on the pipeline and answers in Ollama's shapes:
 * streamed as NDJSON (a line per piece of text, `done: false`, then the final line with `done:
 * true` and the figures), or whole (`stream: false`: one object, the text and the figures).
 * Always streamed from the pipeline, so that both know when the first token came: the figures
 * are Ollama's, in nanoseconds — total_duration (from the request's start), load_duration (0:
 * models are loaded at startup), prompt_eval_duration (start to the first generated token,
 * queueing included), eval_duration (first token to the end), prompt_eval_count and eval_count
 * (the pipeline's token counts).
 *
 * The stream is started before the response's headers go out: the pipeline's refusals (unknown
 * model, prompt too long, a grammar it cannot follow) reach the client as an HTTP error status.
 * A client that goes away cancels its generation (ctx.signal, and the iterator's return).
 *
 * A chat with tools reads the calls out of the text (core's ToolCallParser), as Ollama does: the
 * text around them streams as content, each call comes whole in a message of its own
 * (`message.tool_calls`, content ""); the whole answer carries them all on its message.
 */
import {
  errors,
  type TokenLogprob,
  renameGrammarField,
  type GenerateRequest,
  type GenerationEvent,
  type GenerationResult,
  type HandlerContext,
  type HttpResponse,
  type ModelPipeline,
  type NodeInfo,
  type RequestedGrammar,
  type ToolCallEvent,
  type ToolCallParserOptions,
  ToolCallParser,
} from "@modelnode/core";
import { ollamaCall } from "./tools.js";
import type { OllamaCounters } from "./counters.js";

export type Endpoint = "generate" | "chat";

export interface Deps {
  pipeline: ModelPipeline;
  counters: OllamaCounters;
  info: NodeInfo;
}

export interface Job {
  endpoint: Endpoint;
  /** The model as the client named it (echoed back, as Ollama does). */
  model: string;
  request: GenerateRequest;
  grammar: RequestedGrammar | undefined;
  stream: boolean;
  /** process.hrtime.bigint() when the request arrived. */
  startedAt: bigint;
  /** Read tool calls out of the text (a chat with tools, tool_choice not "none"). */
  tools?: ToolCallParserOptions;
}

/** The figures of Ollama's last message, in nanoseconds and tokens. */
export interface OllamaFigures {
  done_reason: string;
  total_duration: number;
  load_duration: number;
  prompt_eval_count: number;
  prompt_eval_duration: number;
  eval_count: number;
  eval_duration: number;
}

/** One token's log probability as Ollama sends it, and its likeliest alternatives. */
export interface OllamaLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

function ollamaLogprobs(entries: readonly TokenLogprob[]): OllamaLogprob[] {
  const alternative = ({ token, logprob, bytes }: TokenLogprob) => ({ token, logprob, bytes });
  return entries.map((entry) => ({ ...alternative(entry), top_logprobs: (entry.top ?? []).map(alternative) }));
}

/**
 * A message of either endpoint: its text as `response` (generate) or as the assistant's message
 * (chat), and with `logprobs` (when asked for) those of the tokens it carries.
 */
export function message(endpoint: Endpoint, model: string, text: string, done: boolean, logprobs?: readonly TokenLogprob[], calls?: readonly Record<string, unknown>[]): Record<string, unknown> {
  const body = endpoint === "generate" ? { response: text } : { message: { role: "assistant", content: text, ...(calls && calls.length > 0 ? { tool_calls: calls } : {}) } };
  return { model, created_at: new Date().toISOString(), ...body, done, ...(logprobs ? { logprobs: ollamaLogprobs(logprobs) } : {}) };
}

function figures(result: GenerationResult, startedAt: bigint, firstTokenAt: bigint | undefined): OllamaFigures {
  const end = process.hrtime.bigint();
  const first = firstTokenAt ?? end;
  return {
    done_reason: result.finishReason,
    total_duration: Number(end - startedAt),
    load_duration: 0,
    prompt_eval_count: result.usage.promptTokens,
    prompt_eval_duration: Number(first - startedAt),
    eval_count: result.usage.completionTokens,
    eval_duration: Number(end - first),
  };
}

/**
 * A generation that ended "cancelled" never reaches a client as a result: its client left (nobody
 * reads this), or the node is shutting down (SHUTTING_DOWN, 503: retry elsewhere).
 */
function cancelledError(ctx: HandlerContext, info: NodeInfo) {
  return ctx.signal.aborted && info.status() !== "draining"
    ? errors.cancelled("The request was cancelled before its generation finished.")
    : errors.shuttingDown("The generation was cancelled: the node is shutting down.");
}

const isToken = (event: GenerationEvent) => event.kind === "done" || event.text.length > 0 || (event.tokenIds?.length ?? 0) > 0;

export async function run(job: Job, ctx: HandlerContext, { pipeline, counters, info }: Deps): Promise<HttpResponse> {
  counters.inFlight++;
  if (job.stream) counters.streams++;
  const iterator = pipeline.stream(job.request)[Symbol.asyncIterator]();
  let first: IteratorResult<GenerationEvent>;
  try {
    first = await iterator.next(); // the pipeline's refusals are thrown here, before any header is sent
  } catch (error) {
    counters.inFlight--;
    throw renameGrammarField(error, job.grammar);
  }
  let firstTokenAt: bigint | undefined;
  let finished = false;
  const logprobs = job.request.logprobs !== undefined;
  const parser = job.tools ? new ToolCallParser(job.tools) : undefined;
  const calls: Record<string, unknown>[] = [];
  let content = "";
  /** The messages for what the parser told: content as it is decided, each call in a message of its own. */
  function* told(items: ToolCallEvent[], tokens: readonly TokenLogprob[] | undefined): Generator<Record<string, unknown>> {
    let carried = tokens;
    for (const item of items) {
      const call = item.kind === "call" ? ollamaCall(item.call, item.index) : undefined;
      if (call) calls.push(call);
      else content += item.kind === "content" ? item.text : "";
      if (job.stream) yield message(job.endpoint, job.model, item.kind === "content" ? item.text : "", false, carried, call ? [call] : undefined);
      carried = undefined;
    }
    if (job.stream && carried && carried.length > 0) yield message(job.endpoint, job.model, "", false, carried);
  }
  const finish = (result: GenerationResult) => {
    finished = true;
    counters.recordFinish(result);
    if (result.finishReason === "cancelled") throw cancelledError(ctx, info);
  };
  async function* events(): AsyncGenerator<Record<string, unknown>> {
    try {
      for (let step = first; !step.done; step = await iterator.next()) {
        const event = step.value;
        if (firstTokenAt === undefined && isToken(event)) firstTokenAt = process.hrtime.bigint();
        if (event.kind === "text") {
          // A token whose text is held back (part of a character, a possible stop) still brings its log probability.
          const tokens = logprobs ? (event.logprobs ?? []) : undefined;
          if (parser) yield* told(parser.push(event.text), tokens);
          else if (event.text.length > 0 || (tokens?.length ?? 0) > 0) yield message(job.endpoint, job.model, event.text, false, tokens);
          continue;
        }
        finish(event.result);
        if (parser) yield* told(parser.end(), undefined);
        const whole = job.stream ? undefined : logprobs ? (event.result.logprobs ?? []) : undefined;
        const text = job.stream ? "" : parser ? content : event.result.text;
        yield { ...message(job.endpoint, job.model, text, true, whole, job.stream ? undefined : calls), ...figures(event.result, job.startedAt, firstTokenAt) };
      }
    } finally {
      counters.inFlight--;
      if (!finished) counters.recordAbandoned();
      // Stopped early (the client left): returning the pipeline's iterator cancels the generation.
      await iterator.return?.();
    }
  }
  if (job.stream) return { events: events(), framing: "ndjson" };
  let last: Record<string, unknown> | undefined;
  for await (const item of events()) if (item.done === true) last = item;
  if (!last) throw cancelledError(ctx, info);
  return { json: last };
}
