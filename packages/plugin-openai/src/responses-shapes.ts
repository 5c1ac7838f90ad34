/**
 * What POST /v1/responses answers, in OpenAI's shapes: a `response` object whose `output` holds
 * the assistant's message (one `output_text` part) and its function calls, each an item of its
 * own; and, streamed, the typed events that build the same object (ResponseEvents). The request's
 * settings are echoed back as OpenAI does.
 */
import { randomBytes } from "node:crypto";
import type { GenerationResult, TokenLogprob, ToolCall } from "@modelnode/core";
import type { ResponsesRequest } from "./responses-schema.js";
import type { ChatTurn } from "./schema.js";
import { chatLogprobs, type ChatTokenLogprob } from "./shapes.js";

export interface OutputText {
  type: "output_text";
  text: string;
  annotations: never[];
  logprobs?: ChatTokenLogprob[];
}

export interface MessageItem {
  type: "message";
  id: string;
  status: "in_progress" | "completed" | "incomplete";
  role: "assistant";
  content: OutputText[];
}

export interface FunctionCallItem {
  type: "function_call";
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: "in_progress" | "completed";
}

export type OutputItem = MessageItem | FunctionCallItem;

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponseObject {
  id: string;
  object: "response";
  created_at: number;
  status: "in_progress" | "completed" | "incomplete" | "failed";
  error: { code: string; message: string } | null;
  incomplete_details: { reason: "max_output_tokens" } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  max_tool_calls: number | null;
  metadata: Record<string, string>;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: null; summary: null };
  /** Whether the node keeps it (GET /v1/responses/{id}, previous_response_id). */
  store: boolean;
  temperature: number | null;
  text: { format: Record<string, unknown> };
  tool_choice: unknown;
  tools: unknown[];
  top_logprobs: number | null;
  top_p: number | null;
  truncation: "auto" | "disabled";
  usage: ResponsesUsage | null;
  user: string | null;
}

/** One streamed event: its `type`, its place in the stream, its fields. */
export type ResponseStreamEvent = { type: string; sequence_number: number } & Record<string, unknown>;

export const itemId = (prefix: "msg" | "fc") => `${prefix}_${randomBytes(16).toString("hex")}`;

/** The response as it starts: the request's settings, no output yet. */
export function responseSkeleton(id: string, body: ResponsesRequest, store: boolean): ResponseObject {
  const format = body.text?.format;
  return {
    id,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    status: "in_progress",
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: body.max_tool_calls ?? null,
    metadata: body.metadata ?? {},
    model: body.model,
    output: [],
    parallel_tool_calls: body.parallel_tool_calls !== false,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    store,
    temperature: body.temperature ?? null,
    text: { format: format?.type === "json_schema" ? { type: "json_schema", ...format.json_schema } : (format ?? { type: "text" }) },
    tool_choice: body.tool_choice ?? "auto",
    tools: (body.tools ?? []).map(({ function: f }) => ({ type: "function", name: f.name, description: f.description ?? null, parameters: f.parameters ?? null, strict: true })),
    top_logprobs: body.top_logprobs ?? null,
    top_p: body.top_p ?? null,
    truncation: body.truncation ?? "disabled",
    usage: null,
    user: body.user ?? null,
  };
}

export function responsesUsage(result: GenerationResult): ResponsesUsage {
  const { promptTokens, completionTokens, cachedTokens } = result.usage;
  return {
    input_tokens: promptTokens,
    input_tokens_details: { cached_tokens: cachedTokens ?? 0 },
    output_tokens: completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: promptTokens + completionTokens,
  };
}

/** The response's end state: "incomplete" when max_output_tokens cut it short. */
function finish(response: ResponseObject, result: GenerationResult): ResponseObject {
  const cut = result.finishReason === "length";
  return { ...response, status: cut ? "incomplete" : "completed", incomplete_details: cut ? { reason: "max_output_tokens" } : null, usage: responsesUsage(result) };
}

const callItem = (call: ToolCall, status: FunctionCallItem["status"]): FunctionCallItem => ({
  type: "function_call",
  id: itemId("fc"),
  call_id: call.id,
  name: call.function.name,
  arguments: status === "completed" ? call.function.arguments : "",
  status,
});

const outputText = (text: string, logprobs: TokenLogprob[] | undefined): OutputText => ({ type: "output_text", text, annotations: [], ...(logprobs ? { logprobs: chatLogprobs(logprobs).content } : {}) });

/** The whole response of a finished generation: its message (unless it only called), then its calls. */
export function wholeResponse(skeleton: ResponseObject, result: GenerationResult, parsed: { content: string | null; calls: ToolCall[] }, logprobs: boolean): ResponseObject {
  const output: OutputItem[] = [];
  const status = result.finishReason === "length" ? "incomplete" : "completed";
  if (parsed.content !== null || parsed.calls.length === 0) {
    output.push({ type: "message", id: itemId("msg"), status, role: "assistant", content: [outputText(parsed.content ?? "", logprobs ? (result.logprobs ?? []) : undefined)] });
  }
  for (const call of parsed.calls) output.push(callItem(call, "completed"));
  return { ...finish(skeleton, result), output };
}

/**
 * The events of a streamed response, numbered in order: response.created and .in_progress; per
 * message, output_item.added, content_part.added, output_text.delta…, output_text.done,
 * content_part.done, output_item.done; per call, output_item.added, one
 * function_call_arguments.delta with the whole arguments (a call is known whole when it is read),
 * .done, output_item.done; then response.completed (or .incomplete), holding every item.
 */
export class ResponseEvents {
  private sequence = 0;
  private readonly output: OutputItem[] = [];
  /** The whole response, once closing() has built it. */
  final: ResponseObject | undefined;
  /** The message being written, and its text and logprobs so far. */
  private open: { item: MessageItem; index: number; text: string; logprobs: TokenLogprob[] } | undefined;

  constructor(
    private readonly skeleton: ResponseObject,
    private readonly logprobs: boolean,
  ) {}

  private event(type: string, fields: Record<string, unknown>): ResponseStreamEvent {
    return { type, sequence_number: this.sequence++, ...fields };
  }

  opening(): ResponseStreamEvent[] {
    return [this.event("response.created", { response: this.skeleton }), this.event("response.in_progress", { response: this.skeleton })];
  }

  text(text: string, logprobs: TokenLogprob[] | undefined): ResponseStreamEvent[] {
    if (text.length === 0 && !(logprobs && logprobs.length > 0)) return [];
    const events = this.open ? [] : this.openMessage();
    const open = this.open!;
    open.text += text;
    if (logprobs) open.logprobs.push(...logprobs);
    const delta = this.event("response.output_text.delta", { item_id: open.item.id, output_index: open.index, content_index: 0, delta: text, logprobs: this.logprobs ? chatLogprobs(logprobs ?? []).content : [] });
    return [...events, delta];
  }

  call(call: ToolCall): ResponseStreamEvent[] {
    const events = this.closeMessage("completed");
    const item = callItem(call, "in_progress");
    const index = this.output.push({ ...item, arguments: call.function.arguments, status: "completed" }) - 1;
    const at = { item_id: item.id, output_index: index };
    return [
      ...events,
      this.event("response.output_item.added", { output_index: index, item }),
      this.event("response.function_call_arguments.delta", { ...at, delta: call.function.arguments }),
      this.event("response.function_call_arguments.done", { ...at, name: call.function.name, arguments: call.function.arguments }),
      this.event("response.output_item.done", { output_index: index, item: this.output[index] }),
    ];
  }

  /** The open message's end (an empty message when nothing at all was written), then the response's. */
  closing(result: GenerationResult): ResponseStreamEvent[] {
    const cut = result.finishReason === "length";
    const empty = this.output.length === 0 && !this.open ? this.openMessage() : [];
    const events = [...empty, ...this.closeMessage(cut ? "incomplete" : "completed")];
    const response = { ...finish(this.skeleton, result), output: this.output };
    this.final = response;
    return [...events, this.event(cut ? "response.incomplete" : "response.completed", { response })];
  }

  /** A failure after the stream began: an `error` event, then response.failed. */
  failed(error: { code: string; message: string; param: string | null }): ResponseStreamEvent[] {
    const response: ResponseObject = { ...this.skeleton, status: "failed", error: { code: error.code, message: error.message }, output: this.output };
    return [this.event("error", { ...error }), this.event("response.failed", { response })];
  }

  private openMessage(): ResponseStreamEvent[] {
    const item: MessageItem = { type: "message", id: itemId("msg"), status: "in_progress", role: "assistant", content: [] };
    const index = this.output.length;
    this.open = { item, index, text: "", logprobs: [] };
    return [
      this.event("response.output_item.added", { output_index: index, item }),
      this.event("response.content_part.added", { item_id: item.id, output_index: index, content_index: 0, part: outputText("", this.logprobs ? [] : undefined) }),
    ];
  }

  private closeMessage(status: "completed" | "incomplete"): ResponseStreamEvent[] {
    const open = this.open;
    if (!open) return [];
    this.open = undefined;
    const part = outputText(open.text, this.logprobs ? open.logprobs : undefined);
    const item: MessageItem = { ...open.item, status, content: [part] };
    this.output.push(item);
    const at = { item_id: item.id, output_index: open.index, content_index: 0 };
    return [
      this.event("response.output_text.done", { ...at, text: open.text, logprobs: part.logprobs ?? [] }),
      this.event("response.content_part.done", { ...at, part }),
      this.event("response.output_item.done", { output_index: open.index, item }),
    ];
  }
}

/** A response's output as the chat turns that continue it: the assistant's text, its calls as the turn's tool_calls. */
export function outputTurns(output: readonly OutputItem[]): ChatTurn[] {
  const turn: ChatTurn = { role: "assistant", content: "" };
  for (const item of output) {
    if (item.type === "message") turn.content += item.content.map((part) => part.text).join("");
    else (turn.tool_calls ??= []).push({ id: item.call_id, type: "function", function: { name: item.name, arguments: item.arguments } });
  }
  return [turn];
}
