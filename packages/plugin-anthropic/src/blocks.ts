/**
 * A message's content as the pipeline's chat turns. Text blocks are joined with "\n"; an
 * assistant's `tool_use` blocks become its turn's tool calls (OpenAI's shape, the arguments as
 * JSON text), and a user's `tool_result` blocks become "tool" turns answering them, in the order
 * written (text blocks between them a user turn of their own). Every other block type, and every
 * field a block has that the node does not serve, is refused by name.
 */
import { z, type ChatMessage, type ToolCall } from "@modelnode/core";

type Ctx = z.RefinementCtx;
type Path = (string | number)[];

/** Adds an issue; false (so that a check can read `ok = issue(…)`). */
export function issue(ctx: Ctx, path: Path, message: string): false {
  ctx.addIssue({ code: "custom", path, message });
  return false;
}

const CACHING = "prompt caching is not supported";

/** Content block types refused, and why. */
const REFUSED_BLOCKS: Record<string, string> = {
  image: "image blocks are not supported: this node serves text-only models",
  document: "document blocks are not supported: send the text as a text block",
  search_result: "search_result blocks are not supported: send the text as a text block",
  thinking: "thinking blocks are not supported (extended thinking is not served)",
  redacted_thinking: "redacted_thinking blocks are not supported (extended thinking is not served)",
  server_tool_use: "server tools are not supported: this node runs no tools of its own",
  container_upload: "not supported: this node runs no containers",
};

/** Every key of `value` not in `known` is an issue on that key: refused by name, with a reason where there is one. */
export function refuseUnknown(value: Record<string, unknown>, known: readonly string[], refused: Record<string, string>, ctx: Ctx, at: Path = []): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    issue(ctx, [...at, key], refused[key] ?? `unknown field "${key.slice(0, 64)}": not part of the API this node serves`);
  }
}

const BLOCK_FIELDS_REFUSED = { cache_control: CACHING, citations: "citations are not supported" };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** A text block's text, or undefined (with its issues). */
function textOf(block: Record<string, unknown>, ctx: Ctx, at: Path): string | undefined {
  refuseUnknown(block, ["type", "text"], BLOCK_FIELDS_REFUSED, ctx, at);
  if (typeof block.text === "string") return block.text;
  issue(ctx, [...at, "text"], block.text === undefined ? "required" : "expected a string");
  return undefined;
}

/** A string, or text blocks joined with "\n" (the system prompt, a tool result's content). */
export function textOnly(value: unknown, maxBlocks: number, ctx: Ctx, at: Path, what: string): string | undefined {
  if (typeof value === "string") return value;
  if (!Array.isArray(value)) {
    issue(ctx, at, value === undefined ? "required" : `expected ${what}: a string or an array of text blocks`);
    return undefined;
  }
  if (value.length > maxBlocks) {
    issue(ctx, at, `expected at most ${maxBlocks} content blocks`);
    return undefined;
  }
  const texts = value.map((block: unknown, i) => {
    if (!isObject(block)) return issue(ctx, [...at, i], 'expected a content block ({"type": "text", "text": …})');
    if (block.type !== "text") return refuseType(block.type, ctx, [...at, i], 'only text blocks are supported here (got "%s")');
    return textOf(block, ctx, [...at, i]);
  });
  return texts.every((text) => typeof text === "string") ? texts.join("\n") : undefined;
}

/** Blocks of Anthropic's server and MCP tools (server_tool_use, web_fetch_tool_result, mcp_tool_use, …). */
const SERVER_TOOL_BLOCK = /^(server_tool_use|mcp_tool_use|mcp_tool_result|[a-z_]+_tool_result)$/;

function refuseType(type: unknown, ctx: Ctx, at: Path, otherwise: string): undefined {
  const name = typeof type === "string" ? type.slice(0, 48) : undefined;
  const reason = name === undefined ? undefined : (REFUSED_BLOCKS[name] ?? (SERVER_TOOL_BLOCK.test(name) ? REFUSED_BLOCKS.server_tool_use : otherwise.replace("%s", name)));
  issue(ctx, [...at, "type"], reason ?? 'expected a block type (a string), such as "text"');
  return undefined;
}

const TOOL_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** An assistant's tool_use block as a call. */
function callOf(block: Record<string, unknown>, ctx: Ctx, at: Path): ToolCall | undefined {
  refuseUnknown(block, ["type", "id", "name", "input"], BLOCK_FIELDS_REFUSED, ctx, at);
  const { id, name, input } = block;
  let ok = true;
  if (typeof id !== "string" || !TOOL_ID.test(id)) ok = issue(ctx, [...at, "id"], id === undefined ? "required" : 'expected 1 to 64 letters, digits, "_" or "-"');
  if (typeof name !== "string" || !TOOL_ID.test(name)) ok = issue(ctx, [...at, "name"], name === undefined ? "required" : 'expected a tool name: 1 to 64 letters, digits, "_" or "-"');
  if (!isObject(input)) ok = issue(ctx, [...at, "input"], input === undefined ? "required" : "expected the tool's input (an object)");
  return ok ? { id: id as string, type: "function", function: { name: name as string, arguments: JSON.stringify(input) } } : undefined;
}

/** A user's tool_result block as a "tool" turn (`is_error` marks its content "Error: …", the template having no place for it). */
function resultOf(block: Record<string, unknown>, maxBlocks: number, ctx: Ctx, at: Path): ChatMessage | undefined {
  refuseUnknown(block, ["type", "tool_use_id", "content", "is_error"], BLOCK_FIELDS_REFUSED, ctx, at);
  const { tool_use_id: id, content, is_error: isError } = block;
  let ok = true;
  if (typeof id !== "string" || !TOOL_ID.test(id)) ok = issue(ctx, [...at, "tool_use_id"], id === undefined ? "required" : 'expected a tool_use id: 1 to 64 letters, digits, "_" or "-"');
  if (isError !== undefined && typeof isError !== "boolean") ok = issue(ctx, [...at, "is_error"], "expected true or false");
  const text = content === undefined ? "" : textOnly(content, maxBlocks, ctx, [...at, "content"], "the tool's result");
  if (!ok || text === undefined) return undefined;
  return { role: "tool", content: isError === true ? `Error: ${text}` : text, tool_call_id: id as string };
}

/** A message's content (`role` already checked) as its chat turns, or undefined (with its issues). */
export function turnsOf(role: "user" | "assistant", value: unknown, maxBlocks: number, ctx: Ctx, at: Path): ChatMessage[] | undefined {
  if (typeof value === "string") return [{ role, content: value }];
  if (!Array.isArray(value)) return void issue(ctx, at, value === undefined ? "required" : "expected the message's content: a string or an array of content blocks");
  if (value.length > maxBlocks) return void issue(ctx, at, `expected at most ${maxBlocks} content blocks`);
  const turns: ChatMessage[] = [];
  let texts: string[] | undefined;
  const calls: ToolCall[] = [];
  let ok = true;
  value.forEach((block: unknown, i) => {
    const where = [...at, i];
    if (!isObject(block)) return void (ok = issue(ctx, where, 'expected a content block ({"type", …})'));
    const { type } = block;
    let piece: string | ToolCall | ChatMessage | undefined;
    if (type === "text") piece = textOf(block, ctx, where);
    else if (type === "tool_use" && role === "assistant") piece = callOf(block, ctx, where);
    else if (type === "tool_result" && role === "user") piece = resultOf(block, maxBlocks, ctx, where);
    else if (type === "tool_use" || type === "tool_result") issue(ctx, [...where, "type"], type === "tool_use" ? "tool_use blocks belong in assistant messages" : "tool_result blocks belong in user messages");
    else refuseType(type, ctx, where, 'unknown content block type "%s"');
    if (piece === undefined) return void (ok = false);
    if (typeof piece === "string") (texts ??= []).push(piece);
    else if ("role" in piece) {
      if (texts) turns.push({ role, content: texts.join("\n") });
      texts = undefined;
      turns.push(piece);
    } else calls.push(piece);
  });
  if (!ok) return undefined;
  if (role === "assistant") return [{ role, content: (texts ?? []).join("\n"), ...(calls.length > 0 ? { tool_calls: calls } : {}) }];
  if (texts || turns.length === 0) turns.push({ role, content: (texts ?? []).join("\n") });
  return turns;
}
