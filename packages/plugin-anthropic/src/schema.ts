/**
 * The request bodies of POST /v1/messages and POST /v1/messages/count_tokens, typed strictly
 * (nothing is coerced) and bounded by the plugin's options. Every field the node does not serve
 * is refused by name, never ignored: images and documents (text-only models), extended thinking,
 * server tools, prompt caching and the rest (docs/plugin-anthropic.md lists them). Tool use
 * (`tools`, `tool_choice`, tool_use / tool_result blocks) is served (tools.ts, blocks.ts).
 */
import { z, type ChatMessage } from "@modelnode/core";
import { issue, refuseUnknown, textOnly, turnsOf } from "./blocks.js";
import type { ResolvedAnthropicOptions } from "./options.js";
import { checkToolChoice, toolChoiceSchema, toolsSchema } from "./tools.js";

/** Longest `model`, in characters. */
export const MAX_MODEL_CHARS = 256;

type Limits = Omit<ResolvedAnthropicOptions, "defaults" | "maxBodyBytes">;

type Ctx = z.RefinementCtx;

/** A chat turn as the pipeline takes it. */
export type ChatTurn = ChatMessage;

/** Top-level fields of Anthropic's API this node refuses, and why. */
const REFUSED_FIELDS: Record<string, string> = {
  thinking: "extended thinking is not supported by the models here",
  service_tier: "not supported: this node has one service tier",
  container: "not supported: this node runs no containers",
  mcp_servers: "not supported: this node connects to no MCP servers",
  context_management: "not supported: this node does not edit the context",
  inference_geo: "not supported: this node runs where it runs",
  output_config: "not supported: structured outputs are served by the OpenAI and Ollama APIs (docs/structured-output.md)",
  output_format: "not supported: structured outputs are served by the OpenAI and Ollama APIs (docs/structured-output.md)",
  cache_control: "prompt caching is not supported",
};

/** The system prompt: a string or text blocks. */
function systemText(limits: Limits) {
  return z.unknown().transform((value, ctx): string => textOnly(value, limits.maxContentBlocks, ctx, [], "a system prompt") ?? z.NEVER);
}

/** A message as its chat turns (a user message with tool results is several). */
function message(limits: Limits) {
  return z
    .record(z.string(), z.unknown(), { error: 'expected a message object ({"role", "content"})' })
    .transform((value, ctx): ChatTurn[] => {
      refuseUnknown(value, ["role", "content"], {}, ctx);
      const { role } = value;
      if (role !== "user" && role !== "assistant") {
        issue(ctx, ["role"], role === undefined ? "required" : 'expected "user" or "assistant"');
        return z.NEVER;
      }
      return turnsOf(role, value.content, limits.maxContentBlocks, ctx, ["content"]) ?? z.NEVER;
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
    system: systemText(limits).optional(),
    messages: z
      .array(message(limits), { error: (i) => (i.input === undefined ? "required" : "expected an array of messages") })
      .min(1, { error: "expected at least one message" })
      .max(limits.maxChatMessages, { error: `expected at most ${limits.maxChatMessages} messages` }),
    tools: toolsSchema(limits.maxTools).optional(),
    tool_choice: toolChoiceSchema.optional(),
  };
}

/** The chat's shared rules: its size, and no last assistant turn (a prefill the chat template cannot continue). */
function checkChat(limits: Limits, body: { system?: string; messages?: ChatTurn[][]; tools?: unknown; tool_choice?: unknown }, ctx: Ctx): void {
  checkToolChoice(body, ctx);
  if (!Array.isArray(body.messages)) return;
  const turns = body.messages.flat();
  const chars = turns.reduce((sum, turn) => sum + (turn?.content?.length ?? 0), body.system?.length ?? 0);
  if (chars > limits.maxChatChars) issue(ctx, ["messages"], `the system prompt and messages exceed ${limits.maxChatChars} characters in all`);
  const last = body.messages.length - 1;
  if (body.messages[last]?.[0]?.role === "assistant") {
    issue(ctx, ["messages", last, "role"], "a last assistant turn (a prefill to continue) is not supported: end with a user turn");
  }
}

const MESSAGE_FIELDS = ["model", "system", "messages", "tools", "tool_choice", "max_tokens", "stop_sequences", "temperature", "top_p", "top_k", "metadata", "stream"] as const;

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

const COUNT_FIELDS = ["model", "system", "messages", "tools", "tool_choice"] as const;

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

/** The chat the pipeline renders with the model's template: the system prompt first (when there is one), then each message's turns. */
export function chatOf(body: { system?: string; messages: ChatTurn[][] }): ChatTurn[] {
  return [...(body.system !== undefined && body.system.length > 0 ? [{ role: "system" as const, content: body.system }] : []), ...body.messages.flat()];
}
