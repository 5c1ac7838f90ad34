/**
 * What POST /v1/messages answers, in Anthropic's shapes: the whole message, and the stream's
 * events (message_start, content_block_start, ping, content_block_delta…, content_block_stop,
 * message_delta, message_stop). Every event carries its SSE event name as its `type`.
 */
import type { GenerationResult, ToolCall } from "@modelnode/core";

export type AnthropicStopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use";

export type TextBlock = { type: "text"; text: string };
export type ToolUseBlock = { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };
export type ContentBlock = TextBlock | ToolUseBlock;

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
  content: ContentBlock[];
  model: string;
  stop_reason: AnthropicStopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

/** One event of a streamed message. */
export type AnthropicStreamEvent =
  | { type: "message_start"; message: AnthropicMessage }
  | { type: "content_block_start"; index: number; content_block: ContentBlock }
  | { type: "ping" }
  | { type: "content_block_delta"; index: number; delta: { type: "text_delta"; text: string } | { type: "input_json_delta"; partial_json: string } }
  | { type: "content_block_stop"; index: number }
  | { type: "message_delta"; delta: { stop_reason: AnthropicStopReason; stop_sequence: string | null }; usage: AnthropicUsage }
  | { type: "message_stop" };

/** The stop reason and sequence of a finished (not cancelled) generation; "tool_use" when it ended after calls. */
export function stopOf(result: GenerationResult, calls = 0): { stop_reason: AnthropicStopReason; stop_sequence: string | null } {
  if (result.finishReason === "length") return { stop_reason: "max_tokens", stop_sequence: null };
  if (calls > 0 && result.stopSequence === undefined) return { stop_reason: "tool_use", stop_sequence: null };
  if (result.stopSequence !== undefined) return { stop_reason: "stop_sequence", stop_sequence: result.stopSequence };
  return { stop_reason: "end_turn", stop_sequence: null };
}

export function usageOf(result: GenerationResult): AnthropicUsage {
  const cached = result.usage.cachedTokens;
  if (cached === undefined) return { input_tokens: result.usage.promptTokens, output_tokens: result.usage.completionTokens };
  // Anthropic's input_tokens are the tokens after the last cache read: the total is their sum.
  return { input_tokens: result.usage.promptTokens - cached, output_tokens: result.usage.completionTokens, cache_read_input_tokens: cached };
}

/** A call as a tool_use block: Anthropic's id ("toolu_…") and the input parsed back into an object. */
export function toolUseBlock(call: ToolCall): ToolUseBlock {
  return { type: "tool_use", id: `toolu_${call.id.replace(/^call_/, "")}`, name: call.function.name, input: JSON.parse(call.function.arguments) as Record<string, unknown> };
}

/** The whole message; with `parsed` (a reply with tools), its text (if any) and then its calls. */
export function wholeMessage(id: string, model: string, result: GenerationResult, parsed?: { content: string | null; calls: ToolCall[] }): AnthropicMessage {
  const calls = parsed?.calls ?? [];
  const text = parsed ? (parsed.content ?? "") : result.text;
  const content: ContentBlock[] = calls.length > 0 && text.length === 0 ? [] : [{ type: "text", text }];
  content.push(...calls.map(toolUseBlock));
  return { id, type: "message", role: "assistant", content, model, ...stopOf(result, calls.length), usage: usageOf(result) };
}

/** message_start: the empty message, its input tokens known. */
export function startEvent(id: string, model: string, inputTokens: number): AnthropicStreamEvent {
  const message: AnthropicMessage = { id, type: "message", role: "assistant", content: [], model, stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 0 } };
  return { type: "message_start", message };
}
