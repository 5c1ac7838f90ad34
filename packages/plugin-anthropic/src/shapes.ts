/**
 * What POST /v1/messages answers, in Anthropic's shapes: the whole message, and the stream's
 * events (message_start, content_block_start, ping, content_block_delta…, content_block_stop,
 * message_delta, message_stop). Every event carries its SSE event name as its `type`.
 */
import type { GenerationResult } from "@modelnode/core";

export type AnthropicStopReason = "end_turn" | "max_tokens" | "stop_sequence";

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  /** Prompt tokens read from the pipeline's prefix cache (Anthropic's field; then input_tokens counts the rest). */
  cache_read_input_tokens?: number;
}

/** What POST /v1/messages answers (without `stream`). */
export interface AnthropicMessage {
  id: string;
  type: "message";
  role: "assistant";
  content: { type: "text"; text: string }[];
  model: string;
  stop_reason: AnthropicStopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

/** One event of a streamed message. */
export type AnthropicStreamEvent =
  | { type: "message_start"; message: AnthropicMessage }
  | { type: "content_block_start"; index: number; content_block: { type: "text"; text: string } }
  | { type: "ping" }
  | { type: "content_block_delta"; index: number; delta: { type: "text_delta"; text: string } }
  | { type: "content_block_stop"; index: number }
  | { type: "message_delta"; delta: { stop_reason: AnthropicStopReason; stop_sequence: string | null }; usage: AnthropicUsage }
  | { type: "message_stop" };

/** The stop reason and sequence of a finished (not cancelled) generation. */
export function stopOf(result: GenerationResult): { stop_reason: AnthropicStopReason; stop_sequence: string | null } {
  if (result.finishReason === "length") return { stop_reason: "max_tokens", stop_sequence: null };
  if (result.stopSequence !== undefined) return { stop_reason: "stop_sequence", stop_sequence: result.stopSequence };
  return { stop_reason: "end_turn", stop_sequence: null };
}

export function usageOf(result: GenerationResult): AnthropicUsage {
  const cached = result.usage.cachedTokens;
  if (cached === undefined) return { input_tokens: result.usage.promptTokens, output_tokens: result.usage.completionTokens };
  // Anthropic's input_tokens are the tokens after the last cache read: the total is their sum.
  return { input_tokens: result.usage.promptTokens - cached, output_tokens: result.usage.completionTokens, cache_read_input_tokens: cached };
}

export function wholeMessage(id: string, model: string, result: GenerationResult): AnthropicMessage {
  return { id, type: "message", role: "assistant", content: [{ type: "text", text: result.text }], model, ...stopOf(result), usage: usageOf(result) };
}

/** The events before any text: the empty message (its input tokens known), the text block's start, a ping. */
export function openingEvents(id: string, model: string, inputTokens: number): AnthropicStreamEvent[] {
  const message: AnthropicMessage = { id, type: "message", role: "assistant", content: [], model, stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 0 } };
  return [{ type: "message_start", message }, { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }, { type: "ping" }];
}

export function textEvent(text: string): AnthropicStreamEvent {
  return { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } };
}

/** The events after the last text: the block's end, the stop reason with the usage, the message's end. */
export function closingEvents(result: GenerationResult): AnthropicStreamEvent[] {
  return [{ type: "content_block_stop", index: 0 }, { type: "message_delta", delta: stopOf(result), usage: usageOf(result) }, { type: "message_stop" }];
}
