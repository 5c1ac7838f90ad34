/**
 * The Responses API's `input` (and `instructions`) as the chat the pipeline takes. `input` is a
 * text (one user message) or a list of items:
 * - messages (`{"role", "content"}`, with or without `"type": "message"`), content a text or
 *   text parts (`input_text`, `output_text`, `refusal`) joined with "\n";
 * - `function_call` items (what the model called: `call_id`, `name`, `arguments`), which join the
 *   assistant turn before them (or make one), as a chat's `tool_calls`;
 * - `function_call_output` items (a tool's result for `call_id`), which become "tool" turns;
 * - `reasoning` items, which are skipped (this node's models write none; other providers' may be
 *   replayed in a history).
 * Anything else (images, files, hosted tools' items, item references) is refused, naming the item.
 */
import { TOOL_NAME_PATTERN, z, type ToolCall } from "@modelnode/core";
import { MAX_CONTENT_PARTS, type ChatTurn, type Limits } from "./schema.js";

/** Longest call id, in characters (a chat's `tool_call_id` takes 64 too). */
export const MAX_CALL_ID_CHARS = 64;

type Issue = (message: string, path?: (string | number)[]) => never;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const shown = (value: string) => (value.length > 32 ? `${value.slice(0, 32)}…` : value);

/** A message's content: a text, or its text parts joined with "\n". */
function contentText(value: unknown, fail: Issue, at: (string | number)[]): string {
  if (typeof value === "string") return value;
  if (!Array.isArray(value)) return fail(value === undefined ? "required" : "expected a string or an array of content parts", at);
  if (value.length > MAX_CONTENT_PARTS) return fail(`expected at most ${MAX_CONTENT_PARTS} content parts`, at);
  const texts: string[] = [];
  value.forEach((part: unknown, i) => {
    if (!isObject(part)) return fail('expected a content part ({"type": "input_text", "text": …})', [...at, i]);
    const { type } = part;
    if (type === "input_text" || type === "output_text" || type === "text") {
      if (typeof part.text !== "string") return fail(part.text === undefined ? "required" : "expected a string", [...at, i, "text"]);
      texts.push(part.text);
    } else if (type === "refusal") {
      if (typeof part.refusal !== "string") return fail("expected a string", [...at, i, "refusal"]);
      texts.push(part.refusal);
    } else {
      fail(typeof type === "string" ? `only text content parts are supported (got "${shown(type)}")` : 'expected "input_text"', [...at, i, "type"]);
    }
  });
  return texts.join("\n");
}

const MESSAGE_ROLES: Record<string, ChatTurn["role"]> = { user: "user", system: "system", developer: "system", assistant: "assistant" };

function callId(value: unknown, fail: Issue, at: (string | number)[]): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_CALL_ID_CHARS) {
    return fail(value === undefined ? "required" : `expected a call id of 1 to ${MAX_CALL_ID_CHARS} characters`, at);
  }
  return value;
}

/** `input` and `instructions` as chat turns, instructions first (as a system turn). */
export function inputField(limits: Limits) {
  return z.unknown().transform((value, ctx): ChatTurn[] => {
    const fail: Issue = (message, path = []) => {
      ctx.addIssue({ code: "custom", message, path });
      return z.NEVER as never;
    };
    if (value === undefined || value === null) return fail("required");
    if (typeof value === "string") return value.length > limits.maxChatChars ? fail(`expected at most ${limits.maxChatChars} characters`) : [{ role: "user", content: value }];
    if (!Array.isArray(value)) return fail("expected a text or an array of input items");
    if (value.length === 0) return fail("expected at least one item");
    if (value.length > limits.maxChatMessages) return fail(`expected at most ${limits.maxChatMessages} items`);
    const turns: ChatTurn[] = [];
    const issues = ctx.issues.length;
    value.forEach((item: unknown, i) => {
      if (!isObject(item)) return fail('expected an input item ({"role", "content"} or {"type", …})', [i]);
      const type = item.type ?? "message";
      switch (type) {
        case "message": {
          const role = typeof item.role === "string" ? MESSAGE_ROLES[item.role] : undefined;
          if (!role) return fail(item.role === undefined ? "required" : "expected one of user, system, developer, assistant", [i, "role"]);
          turns.push({ role, content: contentText(item.content, fail, [i, "content"]) });
          return;
        }
        case "function_call": {
          const name = item.name;
          if (typeof name !== "string" || !TOOL_NAME_PATTERN.test(name)) return fail(name === undefined ? "required" : 'expected 1 to 64 letters, digits, "_" or "-"', [i, "name"]);
          if (typeof item.arguments !== "string") return fail(item.arguments === undefined ? "required" : "expected the arguments (JSON text)", [i, "arguments"]);
          const call: ToolCall = { id: callId(item.call_id, fail, [i, "call_id"]), type: "function", function: { name, arguments: item.arguments } };
          const last = turns[turns.length - 1];
          // Calls right after an assistant message (or after other calls) are that turn's calls.
          if (last?.role === "assistant") (last.tool_calls ??= []).push(call);
          else turns.push({ role: "assistant", content: "", tool_calls: [call] });
          return;
        }
        case "function_call_output": {
          const id = callId(item.call_id, fail, [i, "call_id"]);
          turns.push({ role: "tool", content: contentText(item.output, fail, [i, "output"]), tool_call_id: id });
          return;
        }
        case "reasoning":
          return;
        case "item_reference":
          return fail("not supported: send the items themselves (or continue a kept response with previous_response_id)", [i, "type"]);
        default:
          return fail(typeof type === "string" ? `not supported: "${shown(type)}" items (this node takes messages, function_call and function_call_output items)` : "expected a string", [i, "type"]);
      }
    });
    if (ctx.issues.length > issues) return z.NEVER;
    if (turns.length === 0) return fail("expected at least one message (reasoning items alone hold no input)");
    const chars = turns.reduce((sum, turn) => sum + turn.content.length, 0);
    if (chars > limits.maxChatChars) return fail(`the items' texts exceed ${limits.maxChatChars} characters in all`);
    return turns;
  });
}
