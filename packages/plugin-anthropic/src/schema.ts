/**
 * The request bodies of POST /v1/messages and POST /v1/messages/count_tokens, typed strictly
 * (nothing is coerced) and bounded by the plugin's options. Every field the node does not serve
 * is refused by name, never ignored: tool use (`tools`, `tool_choice`, tool_use / tool_result
 * blocks: a follow-up), images and documents (text-only models), extended thinking and the rest
 * (docs/plugin-anthropic.md lists them).
 */
import { z } from "@modelnode/core";
import type { ResolvedAnthropicOptions } from "./options.js";

/** Longest `model`, in characters. */
export const MAX_MODEL_CHARS = 256;

type Limits = Omit<ResolvedAnthropicOptions, "defaults" | "maxBodyBytes">;

/** A chat turn as the pipeline takes it. */
export interface ChatTurn {
  role: "system" | "user" | "assistant";
  content: string;
}

const TOOLS = "tool use is not supported yet on this node (Anthropic's tool_use is a follow-up)";

/** Top-level fields of Anthropic's API this node refuses, and why. */
const REFUSED_FIELDS: Record<string, string> = {
  tools: TOOLS,
  tool_choice: TOOLS,
  thinking: "extended thinking is not supported",
  service_tier: "not supported: this node has one service tier",
  container: "not supported: this node runs no containers",
  mcp_servers: "not supported: this node connects to no MCP servers",
  context_management: "not supported",
};

/** Content block types refused, and why. */
const REFUSED_BLOCKS: Record<string, string> = {
  image: "image blocks are not supported: this node serves text-only models",
  document: "document blocks are not supported: send the text as a text block",
  tool_use: "tool_use blocks are not supported yet (Anthropic's tool use is a follow-up)",
  tool_result: "tool_result blocks are not supported yet (Anthropic's tool use is a follow-up)",
  thinking: "thinking blocks are not supported",
  redacted_thinking: "redacted_thinking blocks are not supported",
};

type Ctx = z.RefinementCtx;
const issue = (ctx: Ctx, path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });

/** Every key of `value` not in `known` is an issue on that key: refused by name, with a reason where there is one. */
function refuseUnknown(value: Record<string, unknown>, known: readonly string[], refused: Record<string, string>, ctx: Ctx, at: (string | number)[] = []): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    issue(ctx, [...at, key], refused[key] ?? `unknown field "${key.slice(0, 64)}": not part of the API this node serves`);
  }
}

/** A string, or an array of text blocks (`{"type": "text", "text"}`) joined with "\n"; blocks of other types refused by name. */
function textContent(limits: Limits, what: string) {
  return z.unknown().transform((value, ctx): string => {
    if (typeof value === "string") return value;
    if (!Array.isArray(value)) {
      issue(ctx, [], value === undefined ? "required" : `expected ${what}: a string or an array of text blocks`);
      return z.NEVER;
    }
    if (value.length > limits.maxContentBlocks) {
      issue(ctx, [], `expected at most ${limits.maxContentBlocks} content blocks`);
      return z.NEVER;
    }
    const texts: string[] = [];
    value.forEach((block: unknown, i) => {
      if (typeof block !== "object" || block === null || Array.isArray(block)) return issue(ctx, [i], 'expected a content block ({"type": "text", "text": …})');
      const { type, text } = block as { type?: unknown; text?: unknown };
      if (type !== "text") {
        const name = typeof type === "string" ? type.slice(0, 32) : undefined;
        return issue(ctx, [i, "type"], name === undefined ? 'expected "text"' : (REFUSED_BLOCKS[name] ?? `only text blocks are supported (got "${name}")`));
      }
      refuseUnknown(block as Record<string, unknown>, ["type", "text"], { cache_control: "prompt caching is not supported", citations: "citations are not supported" }, ctx, [i]);
      if (typeof text !== "string") return issue(ctx, [i, "text"], text === undefined ? "required" : "expected a string");
      texts.push(text);
    });
    return texts.length === value.length ? texts.join("\n") : z.NEVER;
  });
}

function message(limits: Limits) {
  return z
    .record(z.string(), z.unknown(), { error: 'expected a message object ({"role", "content"})' })
    .transform((value, ctx): ChatTurn => {
      refuseUnknown(value, ["role", "content"], {}, ctx);
      const { role } = value;
      if (role !== "user" && role !== "assistant") issue(ctx, ["role"], role === undefined ? "required" : 'expected "user" or "assistant"');
      const content = textContent(limits, "the message's content").safeParse(value.content);
      if (!content.success) for (const i of content.error.issues) issue(ctx, ["content", ...i.path.map((p) => p as string | number)], i.message);
      return content.success ? { role: role as ChatTurn["role"], content: content.data } : (z.NEVER as never);
    });
}

const numberIn = (what: string, check: (n: number) => boolean) => z.number({ error: `expected ${what}` }).refine(check, { error: `expected ${what}` });

/** The fields both endpoints take: the model and the chat. */
function chatFields(limits: Limits) {
  return {
    model: z
      .string({ error: (i) => (i.input === undefined ? "required" : "expected a model id (a string)") })
      .min(1, { error: "expected a model id" })
      .max(MAX_MODEL_CHARS, { error: `expected at most ${MAX_MODEL_CHARS} characters` }),
    system: textContent(limits, "a system prompt").optional(),
    messages: z
      .array(message(limits), { error: (i) => (i.input === undefined ? "required" : "expected an array of messages") })
      .min(1, { error: "expected at least one message" })
      .max(limits.maxChatMessages, { error: `expected at most ${limits.maxChatMessages} messages` }),
  };
}

/** The chat's shared rules: its size, and no last assistant turn (a prefill the chat template cannot continue). */
function checkChat(limits: Limits, body: { system?: string; messages?: ChatTurn[] }, ctx: Ctx): void {
  if (!Array.isArray(body.messages)) return;
  const chars = body.messages.reduce((sum, turn) => sum + (turn?.content?.length ?? 0), body.system?.length ?? 0);
  if (chars > limits.maxChatChars) issue(ctx, ["messages"], `the system prompt and messages exceed ${limits.maxChatChars} characters in all`);
  const last = body.messages.length - 1;
  if (body.messages[last]?.role === "assistant") {
    issue(ctx, ["messages", last, "role"], "a last assistant turn (a prefill to continue) is not supported: end with a user turn");
  }
}

const MESSAGE_FIELDS = ["model", "system", "messages", "max_tokens", "stop_sequences", "temperature", "top_p", "top_k", "metadata", "stream"] as const;

/** POST /v1/messages. */
export function messagesRequestSchema(limits: Limits) {
  const stop = `expected a string of 1 to ${limits.maxStopChars} characters`;
  return z
    .looseObject(
      {
        ...chatFields(limits),
        max_tokens: z
          .int({ error: (i) => (i.input === undefined ? "required" : `expected an integer from 1 to ${limits.maxTokensLimit}`) })
          .min(1, { error: `expected an integer from 1 to ${limits.maxTokensLimit}` })
          .max(limits.maxTokensLimit, { error: `expected an integer from 1 to ${limits.maxTokensLimit}` }),
        stop_sequences: z
          .array(z.string({ error: stop }).min(1, { error: stop }).max(limits.maxStopChars, { error: stop }), { error: "expected an array of strings" })
          .max(limits.maxStopSequences, { error: `expected at most ${limits.maxStopSequences} stop sequences` })
          .optional(),
        temperature: numberIn("a number from 0 to 1", (n) => n >= 0 && n <= 1).optional(),
        top_p: numberIn("a number more than 0 and at most 1", (n) => n > 0 && n <= 1).optional(),
        top_k: z.int({ error: "expected an integer ≥ 1" }).min(1, { error: "expected an integer ≥ 1" }).optional(),
        metadata: z
          .strictObject({ user_id: z.string({ error: "expected a string" }).max(256, { error: "expected at most 256 characters" }).nullish() }, {
            error: (i) => (i.code === "unrecognized_keys" ? `unknown field ${i.keys.map((k) => `"${k.slice(0, 64)}"`).join(", ")}: only user_id is accepted` : 'expected an object ({"user_id"})'),
          })
          .optional(),
        stream: z.boolean({ error: "expected true or false" }).optional(),
      },
      { error: "expected a JSON object" },
    )
    .superRefine((body, ctx) => {
      refuseUnknown(body, MESSAGE_FIELDS, REFUSED_FIELDS, ctx);
      checkChat(limits, body, ctx);
    });
}

export type MessagesRequest = z.output<ReturnType<typeof messagesRequestSchema>>;

const COUNT_FIELDS = ["model", "system", "messages"] as const;

/** POST /v1/messages/count_tokens. */
export function countTokensRequestSchema(limits: Limits) {
  return z
    .looseObject(chatFields(limits), { error: "expected a JSON object" })
    .superRefine((body, ctx) => {
      refuseUnknown(body, COUNT_FIELDS, REFUSED_FIELDS, ctx);
      checkChat(limits, body, ctx);
    });
}

export type CountTokensRequest = z.output<ReturnType<typeof countTokensRequestSchema>>;

/** The chat the pipeline renders with the model's template: the system prompt first (when there is one), then the turns. */
export function chatOf(body: { system?: string; messages: ChatTurn[] }): ChatTurn[] {
  return [...(body.system !== undefined && body.system.length > 0 ? [{ role: "system" as const, content: body.system }] : []), ...body.messages];
}
