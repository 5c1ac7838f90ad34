/**
 * Tool calls read out of a model's text, in the format its family writes them
 * (`ModelInfo.toolCallFormat`; docs/structured-output.md, "Tool calling"):
 *
 * - "hermes" (Qwen, Hermes, the pipeline's fallback): any number of
 *   `<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>` blocks, with text around them;
 * - "llama3_json" (Llama 3.x): the whole reply is one `{"name": …, "parameters": {…}}` object,
 *   optionally after `<|python_tag|>`.
 *
 * One parser serves the whole reply and the stream (the whole reply is the stream's events
 * joined), so both read the same calls. A block that does not parse, names no given function, or
 * is cut off stays in the content as written. Whitespace alone between or around calls is not
 * content; a reply with calls and no other text has content null.
 */
import { randomBytes } from "node:crypto";
import type { ToolCall, ToolCallFormat } from "./pipeline.js";

export type ToolCallEvent = { kind: "content"; text: string } | { kind: "call"; index: number; call: ToolCall };

const HERMES_OPEN = "<tool_call>";
const HERMES_CLOSE = "</tool_call>";
const PYTHON_TAG = "<|python_tag|>";
const ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** OpenAI's shape of a call id: "call_" and 24 random letters and digits. */
export function newToolCallId(): string {
  const bytes = randomBytes(24);
  let id = "call_";
  for (const byte of bytes) id += ID_CHARS[byte % ID_CHARS.length];
  return id;
}

export interface ToolCallParserOptions {
  format: ToolCallFormat;
  /** The functions the request gave: a call naming another is left as text. */
  names: ReadonlySet<string>;
  /** Calls past this many are left as text (1 with `parallel_tool_calls: false`). */
  maxCalls?: number;
}

/** Feed it the text as it comes (`push`), then `end()`; each returns what can be told so far. */
export class ToolCallParser {
  private pending = "";
  /** Whitespace held back: content only if more text follows. */
  private space = "";
  private inCall = false;
  /** llama3_json: undecided until the first non-blank character; then "json" (held to the end) or "text". */
  private llamaMode: "undecided" | "json" | "text" = "undecided";
  private calls = 0;
  private readonly maxCalls: number;

  constructor(private readonly options: ToolCallParserOptions) {
    this.maxCalls = options.maxCalls ?? Number.POSITIVE_INFINITY;
  }

  get callCount(): number {
    return this.calls;
  }

  push(text: string): ToolCallEvent[] {
    this.pending += text;
    const out: ToolCallEvent[] = [];
    if (this.options.format === "llama3_json") this.llama(out, false);
    else this.hermes(out, false);
    return out;
  }

  end(): ToolCallEvent[] {
    const out: ToolCallEvent[] = [];
    if (this.options.format === "llama3_json") this.llama(out, true);
    else this.hermes(out, true);
    // Trailing whitespace is the reply's own only when it made no calls.
    if (this.calls === 0 && this.space) out.push({ kind: "content", text: this.space });
    this.space = "";
    return out;
  }

  private hermes(out: ToolCallEvent[], final: boolean): void {
    for (;;) {
      if (!this.inCall) {
        const open = this.pending.indexOf(HERMES_OPEN);
        if (open < 0) {
          const keep = final ? 0 : heldPrefix(this.pending, HERMES_OPEN);
          this.content(out, this.pending.slice(0, this.pending.length - keep));
          this.pending = this.pending.slice(this.pending.length - keep);
          return;
        }
        this.content(out, this.pending.slice(0, open));
        this.pending = this.pending.slice(open);
        this.inCall = true;
      }
      const close = this.pending.indexOf(HERMES_CLOSE);
      if (close < 0) {
        if (final) {
          this.content(out, this.pending); // cut off: left as written
          this.pending = "";
        }
        return;
      }
      const block = this.pending.slice(0, close + HERMES_CLOSE.length);
      this.pending = this.pending.slice(block.length);
      this.inCall = false;
      const call = this.readCall(block.slice(HERMES_OPEN.length, close), "arguments");
      if (call) {
        this.space = ""; // whitespace before a call is not content
        out.push({ kind: "call", index: this.calls++, call });
      } else this.content(out, block);
    }
  }

  private llama(out: ToolCallEvent[], final: boolean): void {
    if (this.llamaMode === "undecided") {
      const start = this.pending.trimStart();
      if (!final && (start.length === 0 || (start.length < PYTHON_TAG.length && PYTHON_TAG.startsWith(start)))) return;
      this.llamaMode = start.startsWith("{") || start.startsWith(PYTHON_TAG) ? "json" : "text";
    }
    if (this.llamaMode === "text") {
      this.content(out, this.pending);
      this.pending = "";
      return;
    }
    if (!final) return; // one object, read whole at the end
    const body = this.pending.trimStart();
    const call = this.readCall(body.startsWith(PYTHON_TAG) ? body.slice(PYTHON_TAG.length) : body, "parameters");
    if (call) out.push({ kind: "call", index: this.calls++, call });
    else this.content(out, this.pending);
    this.pending = "";
  }

  /** `{"name", <argsKey>}` (also "arguments" for llama3_json) as a call, or undefined. */
  private readCall(text: string, argsKey: "arguments" | "parameters"): ToolCall | undefined {
    if (this.calls >= this.maxCalls) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.trim());
    } catch {
      return undefined;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
    const record = parsed as Record<string, unknown>;
    const name = record.name;
    let args = record[argsKey] ?? (argsKey === "parameters" ? record.arguments : undefined);
    if (typeof args === "string") {
      try {
        args = JSON.parse(args);
      } catch {
        return undefined;
      }
    }
    if (typeof name !== "string" || !this.options.names.has(name)) return undefined;
    if (typeof args !== "object" || args === null || Array.isArray(args)) return undefined;
    return { id: newToolCallId(), type: "function", function: { name, arguments: JSON.stringify(args) } };
  }

  /** Text outside calls: whitespace is held until something else follows it. */
  private content(out: ToolCallEvent[], text: string): void {
    if (text.length === 0) return;
    const trimmed = text.trimEnd();
    if (trimmed.length === 0) {
      this.space += text;
      return;
    }
    out.push({ kind: "content", text: this.space + trimmed });
    this.space = text.slice(trimmed.length);
  }
}

/** Length of the longest end of `text` that is a start of `tag` (held back: it may become the tag). */
function heldPrefix(text: string, tag: string): number {
  for (let length = Math.min(tag.length - 1, text.length); length > 0; length--) {
    if (tag.startsWith(text.slice(text.length - length))) return length;
  }
  return 0;
}

/** A whole reply's calls and content (null when only whitespace is left beside calls). */
export function parseToolCalls(text: string, options: ToolCallParserOptions): { content: string | null; calls: ToolCall[] } {
  const parser = new ToolCallParser(options);
  const events = [...parser.push(text), ...parser.end()];
  const calls = events.flatMap((event) => (event.kind === "call" ? [event.call] : []));
  const content = events.map((event) => (event.kind === "content" ? event.text : "")).join("");
  return { content: calls.length > 0 && content.trim().length === 0 ? null : content, calls };
}
