/**
 * What the two generation endpoints answer, in OpenAI's shapes: the whole reply (one choice per
 * requested choice, usage summed as OpenAI sums it) and the stream's chunks (each tagged with its
 * choice's index), with log probabilities in each endpoint's own layout when asked for:
 * chat's `logprobs.content[]` and the completions' `tokens` / `token_logprobs` / `top_logprobs` /
 * `text_offset`.
 */
import { parseToolCalls, type GenerationResult, type TokenLogprob, type ToolCall, type ToolCallParserOptions } from "@modelnode/core";

export type OpenAIFinishReason = "stop" | "length" | "tool_calls";

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** When the pipeline says: prompt tokens served by its prefix cache (0 when none). */
  prompt_tokens_details?: { cached_tokens: number };
}

/** A chat token's log probability (`choices[].logprobs.content[]`). */
export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export interface ChatLogprobs {
  content: ChatTokenLogprob[];
  refusal: null;
}

/** A completion's log probabilities (`choices[].logprobs`), one entry per token in each list. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  /** Per token: the likeliest tokens' texts → log probabilities, the chosen token's included. */
  top_logprobs: Record<string, number>[];
  /** Per token: where its text starts in the completion's text (the lengths of the tokens before it, summed). */
  text_offset: number[];
}

/** What POST /v1/completions answers (without `stream`). */
export interface TextCompletion {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: { text: string; index: number; logprobs: CompletionLogprobs | null; finish_reason: OpenAIFinishReason }[];
  usage: OpenAIUsage;
}

/** What POST /v1/chat/completions answers (without `stream`). */
export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: { index: number; message: { role: "assistant"; content: string | null; refusal: null; tool_calls?: ToolCall[] }; logprobs: ChatLogprobs | null; finish_reason: OpenAIFinishReason }[];
  usage: OpenAIUsage;
}

/** One server-sent event of a streamed completion. */
export interface TextCompletionChunk {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: { text: string; index: number; logprobs: CompletionLogprobs | null; finish_reason: OpenAIFinishReason | null }[];
  usage?: OpenAIUsage | null;
}

/** One server-sent event of a streamed chat completion. */
export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: { index: number; delta: { role?: "assistant"; content?: string; tool_calls?: ToolCallDelta[] }; logprobs: ChatLogprobs | null; finish_reason: OpenAIFinishReason | null }[];
  usage?: OpenAIUsage | null;
}

/** A streamed call: its first chunk names it (id, type, name, arguments ""); later ones append to its arguments. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function: { name?: string; arguments: string };
}

export interface ChunkBase {
  id: string;
  created: number;
  model: string;
  /** `usage: null` on every chunk but the last when include_usage is asked for, as OpenAI does. */
  includeUsage: boolean;
}

/** One choice of a stream: its index, and (completions) where its next token's text starts. */
export interface ChoiceCursor {
  index: number;
  offset: number;
}

/** How one endpoint turns generations into JSON and into stream chunks. */
export interface Shape<Whole, Chunk> {
  /** `logprobs`: whether the request asked for them (the results then carry them); `tools`: read tool calls out of the text. */
  whole(id: string, created: number, model: string, results: GenerationResult[], logprobs: boolean, tools?: ToolCallParserOptions): Whole;
  /** The chunk sent before any text of a choice (chat: the assistant's role), if any. */
  opening?(base: ChunkBase, index: number): Chunk;
  /** A piece of a choice's text; `logprobs` (when asked for) are its tokens'. */
  text(base: ChunkBase, choice: ChoiceCursor, text: string, logprobs: TokenLogprob[] | undefined): Chunk;
  finish(base: ChunkBase, index: number, reason: OpenAIFinishReason): Chunk;
  /** A tool call of choice `index` (chat): the chunk naming it, then its arguments. */
  toolCall?(base: ChunkBase, index: number, callIndex: number, call: ToolCall): Chunk[];
  /** The extra last chunk of `stream_options.include_usage`: no choices, the usage. */
  usage(base: ChunkBase, usage: OpenAIUsage): Chunk;
}

/** OpenAI's usage of n choices: the prompt once, the completions summed. */
export function usageOf(results: GenerationResult[]): OpenAIUsage {
  const promptTokens = results[0]?.usage.promptTokens ?? 0;
  const completionTokens = results.reduce((sum, result) => sum + result.usage.completionTokens, 0);
  const usage: OpenAIUsage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  // A pipeline with a prefix cache reports cachedTokens (absent: none cached); one without says nothing.
  const cached = results.find((result) => result.usage.cachedTokens !== undefined)?.usage.cachedTokens;
  if (cached !== undefined) usage.prompt_tokens_details = { cached_tokens: cached };
  return usage;
}

export function chatLogprobs(entries: readonly TokenLogprob[]): ChatLogprobs {
  const alternative = ({ token, logprob, bytes }: Omit<TokenLogprob, "id" | "top">) => ({ token, logprob, bytes });
  return { content: entries.map((entry) => ({ ...alternative(entry), top_logprobs: (entry.top ?? []).map(alternative) })), refusal: null };
}

/** `cursor.offset` moves past these tokens. */
export function completionLogprobs(entries: readonly TokenLogprob[], cursor: { offset: number }): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  for (const entry of entries) {
    out.tokens.push(entry.token);
    out.token_logprobs.push(entry.logprob);
    const top: Record<string, number> = {};
    for (const alternative of entry.top ?? []) top[alternative.token] ??= alternative.logprob;
    top[entry.token] ??= entry.logprob;
    out.top_logprobs.push(top);
    out.text_offset.push(cursor.offset);
    cursor.offset += entry.token.length;
  }
  return out;
}

const reasonOf = (result: GenerationResult) => result.finishReason as OpenAIFinishReason;

export const completionShape: Shape<TextCompletion, TextCompletionChunk> = {
  whole: (id, created, model, results, logprobs) => ({
    id,
    object: "text_completion",
    created,
    model,
    choices: results.map((result, index) => ({
      text: result.text,
      index,
      logprobs: logprobs ? completionLogprobs(result.logprobs ?? [], { offset: 0 }) : null,
      finish_reason: reasonOf(result),
    })),
    usage: usageOf(results),
  }),
  text: (b, choice, text, logprobs) => textChunk(b, choice.index, text, logprobs ? completionLogprobs(logprobs, choice) : null, null),
  finish: (b, index, reason) => textChunk(b, index, "", null, reason),
  usage: (b, usage) => ({ id: b.id, object: "text_completion", created: b.created, model: b.model, choices: [], usage }),
};

function textChunk(b: ChunkBase, index: number, text: string, logprobs: CompletionLogprobs | null, finish: OpenAIFinishReason | null): TextCompletionChunk {
  const chunk: TextCompletionChunk = { id: b.id, object: "text_completion", created: b.created, model: b.model, choices: [{ text, index, logprobs, finish_reason: finish }] };
  if (b.includeUsage) chunk.usage = null;
  return chunk;
}

export const chatShape: Shape<ChatCompletion, ChatCompletionChunk> = {
  whole: (id, created, model, results, logprobs, tools) => ({
    id,
    object: "chat.completion",
    created,
    model,
    choices: results.map((result, index) => {
      const parsed = tools ? parseToolCalls(result.text, tools) : { content: result.text, calls: [] };
      const message: ChatCompletion["choices"][0]["message"] = { role: "assistant", content: parsed.content, refusal: null };
      if (parsed.calls.length > 0) message.tool_calls = parsed.calls;
      return {
        index,
        message,
        logprobs: logprobs ? chatLogprobs(result.logprobs ?? []) : null,
        finish_reason: parsed.calls.length > 0 && result.finishReason === "stop" ? "tool_calls" : reasonOf(result),
      };
    }),
    usage: usageOf(results),
  }),
  opening: (b, index) => chatChunk(b, index, { role: "assistant", content: "" }, null, null),
  text: (b, choice, text, logprobs) => chatChunk(b, choice.index, { content: text }, logprobs ? chatLogprobs(logprobs) : null, null),
  finish: (b, index, reason) => chatChunk(b, index, {}, null, reason),
  toolCall: (b, index, callIndex, call) => [
    chatChunk(b, index, { tool_calls: [{ index: callIndex, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }] }, null, null),
    chatChunk(b, index, { tool_calls: [{ index: callIndex, function: { arguments: call.function.arguments } }] }, null, null),
  ],
  usage: (b, usage) => ({ id: b.id, object: "chat.completion.chunk", created: b.created, model: b.model, choices: [], usage }),
};

function chatChunk(
  b: ChunkBase,
  index: number,
  delta: ChatCompletionChunk["choices"][0]["delta"],
  logprobs: ChatLogprobs | null,
  finish: OpenAIFinishReason | null,
): ChatCompletionChunk {
  const chunk: ChatCompletionChunk = { id: b.id, object: "chat.completion.chunk", created: b.created, model: b.model, choices: [{ index, delta, logprobs, finish_reason: finish }] };
  if (b.includeUsage) chunk.usage = null;
  return chunk;
}
