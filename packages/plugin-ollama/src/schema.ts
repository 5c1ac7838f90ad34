/**
 * The request bodies of /api/generate, /api/chat and /api/show, typed strictly (nothing is
 * coerced) and bounded by the plugin's options. Fields this node cannot honour are refused by
 * name with a 400 unless they ask for what the node does anyway (an empty `images`, `think:
 * false`, …); `logprobs` / `top_logprobs` are the other doors' log probabilities; /api/chat takes
 * tools (tools.ts); a key Ollama does not have is refused by name too. `format` ("json" or a JSON schema) becomes the request's
 * grammar (docs/structured-output.md).
 */
import { z, type ChatMessage, type GrammarSpec, type RequestedGrammar } from "@modelnode/core";
import type { ResolvedOllamaOptions } from "./options.js";
import { optionsSchema } from "./sampling.js";
import { checkTools, linkToolTurns, ollamaToolCallSchema, toolChoiceSchema, toolSchema, type ParsedTurn } from "./tools.js";

/** Longest `model`, in characters. */
export const MAX_MODEL_CHARS = 256;
/** Longest `keep_alive` duration text, in characters. */
const MAX_DURATION_CHARS = 32;

/** A duration as Go's time.ParseDuration (what Ollama parses `keep_alive` with) takes it: "5m", "1h30m", "-1s", "0". */
const GO_DURATION = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

const DURATION = `expected a duration (a number of seconds, or a text such as "5m" or "1h30m")`;

type Limits = Omit<ResolvedOllamaOptions, "defaults" | "maxBodyBytes" | "version">;

const NO_IMAGES = "images are not supported: the models here read text only";

const onlyDefault = (accept: (value: unknown) => boolean, message: string) =>
  z.unknown().refine((value) => value === undefined || value === null || accept(value), { error: message }).optional();
const isEmptyArray = (v: unknown) => Array.isArray(v) && v.length === 0;

const unknownKeys = (what: string) => (issue: { code?: string; keys?: string[] }) =>
  issue.code === "unrecognized_keys" && issue.keys
    ? `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((key) => `"${key.slice(0, 64)}"`).join(", ")}`
    : `expected ${what}`;

const model = z
  .string({ error: (issue) => (issue.input === undefined ? "required" : "expected a model name (a string)") })
  .min(1, { error: "expected a model name" })
  .max(MAX_MODEL_CHARS, { error: `expected at most ${MAX_MODEL_CHARS} characters` });

/** `format`: "json" (any JSON object), a JSON schema (an object), or "" / absent (free text). */
const format = z
  .unknown()
  .transform((value, ctx): GrammarSpec | undefined => {
    if (value === undefined || value === null || value === "") return undefined;
    if (value === "json") return { type: "json_object" };
    if (typeof value === "object" && !Array.isArray(value)) return { type: "json_schema", schema: value as Record<string, unknown> };
    ctx.addIssue({ code: "custom", message: 'expected "json" or a JSON schema (an object)' });
    return z.NEVER;
  })
  .optional();

/** Fields both generation endpoints take. */
function commonFields(limits: Limits) {
  return {
    model,
    stream: z.boolean({ error: "expected true or false" }).nullish(),
    format,
    /** Accepted and checked; models here stay loaded whatever it says (docs/plugin-ollama.md). */
    keep_alive: z.union([z.number(), z.string().max(MAX_DURATION_CHARS, { error: DURATION }).regex(GO_DURATION, { error: DURATION })], { error: DURATION }).nullish(),
    options: optionsSchema(limits).nullish(),
    think: onlyDefault((v) => v === false, "thinking is not supported by the models here: only false is accepted"),
    // Ollama cuts or shifts a prompt too long for the context (both on by default); this node refuses it instead.
    truncate: onlyDefault((v) => v === false, "not supported: a prompt too long for the context is refused, never truncated (only false is accepted)"),
    shift: onlyDefault((v) => v === false, "not supported: the context is never shifted; a generation stops at the context's end (only false is accepted)"),
    _debug_render_only: onlyDefault((v) => v === false, "not supported: this node renders no prompt without generating"),
    logprobs: z.boolean({ error: "expected true or false" }).nullish(),
    top_logprobs: z
      .int({ error: `expected an integer from 0 to ${limits.maxTopLogprobs}` })
      .min(0, { error: `expected an integer from 0 to ${limits.maxTopLogprobs}` })
      .max(limits.maxTopLogprobs, { error: `expected an integer from 0 to ${limits.maxTopLogprobs}` })
      .nullish(),
  };
}

/** `top_logprobs` > 0 needs `logprobs: true` (as on the other doors). */
function topNeedsLogprobs(body: { logprobs?: boolean | null; top_logprobs?: number | null }, ctx: z.RefinementCtx): void {
  if (typeof body.top_logprobs === "number" && body.top_logprobs > 0 && body.logprobs !== true) {
    ctx.addIssue({ code: "custom", path: ["top_logprobs"], message: "needs logprobs: true" });
  }
}

/** The log probabilities a body asks for: undefined for none, else the alternatives per token. */
export function logprobsOf(body: { logprobs?: boolean | null; top_logprobs?: number | null }): number | undefined {
  return body.logprobs === true ? (body.top_logprobs ?? 0) : undefined;
}

/** The grammar `format` asks for, with its errors naming `format`. */
export function requestedGrammar(grammar: GrammarSpec | undefined): RequestedGrammar | undefined {
  return grammar && { grammar, field: () => "format" };
}

/** POST /api/generate. Without `prompt` it only says whether the model is loaded (done_reason "load"), as Ollama does. */
export function generateRequestSchema(limits: Limits) {
  const text = (what: string) => z.string({ error: `expected ${what} (a string)` }).max(limits.maxPromptChars, { error: `expected at most ${limits.maxPromptChars} characters` });
  return z.strictObject(
    {
      ...commonFields(limits),
      prompt: text("a prompt").nullish(),
      system: text("a system message").nullish(),
      raw: z.boolean({ error: "expected true or false" }).nullish(),
      template: onlyDefault((v) => v === "", "not supported: the model's own chat template is used (or none, with raw: true)"),
      suffix: onlyDefault((v) => v === "", "not supported: this node does not insert text"),
      context: onlyDefault(isEmptyArray, "not supported: send the conversation as text, or use /api/chat"),
      images: onlyDefault(isEmptyArray, NO_IMAGES),
    },
    { error: unknownKeys("a JSON object") },
  ).superRefine((body, ctx) => {
    topNeedsLogprobs(body, ctx);
    if (body.raw === true && typeof body.system === "string" && body.system !== "") {
      ctx.addIssue({ code: "custom", path: ["system"], message: "not used with raw: true (the prompt is sent as it is): put it in the prompt" });
    }
  });
}

export type GenerateBody = z.output<ReturnType<typeof generateRequestSchema>>;

/** A chat turn as the pipeline takes it (generate's turns are plain: a system and a user turn). */
export type ChatTurn = ChatMessage;

const ROLES = new Set(["system", "user", "assistant", "tool"]);

function chatMessage(limits: Limits) {
  return z.strictObject(
    {
      role: z.string({ error: "expected a role (a string)" }).refine((role) => ROLES.has(role), { error: "expected one of system, user, assistant, tool" }),
      content: z.string({ error: "expected a string" }).max(limits.maxChatChars, { error: `expected at most ${limits.maxChatChars} characters` }),
      images: onlyDefault(isEmptyArray, NO_IMAGES),
      tool_calls: z.array(ollamaToolCallSchema, { error: "expected an array of tool calls" }).max(limits.maxChatMessages, { error: `expected at most ${limits.maxChatMessages} calls` }).nullish(),
      tool_name: z.string({ error: "expected a function name (a string)" }).max(64, { error: "expected at most 64 characters" }).nullish(),
      tool_call_id: z.string({ error: "expected a string" }).min(1, { error: "expected a call id" }).max(64, { error: "expected at most 64 characters" }).nullish(),
      thinking: onlyDefault((v) => v === "", "thinking is not supported by the models here"),
    },
    { error: unknownKeys('a message ({"role", "content"})') },
  ).superRefine((message, ctx) => {
    if (message.tool_calls && message.tool_calls.length > 0 && message.role !== "assistant") ctx.addIssue({ code: "custom", path: ["tool_calls"], message: "only assistant messages carry tool calls" });
    if (message.role !== "tool" && (message.tool_name || message.tool_call_id)) ctx.addIssue({ code: "custom", path: [message.tool_name ? "tool_name" : "tool_call_id"], message: "only tool messages answer a call" });
  }).transform((message): ParsedTurn => ({
    role: message.role as ParsedTurn["role"],
    content: message.content,
    ...(message.tool_calls && message.tool_calls.length > 0 ? { tool_calls: message.tool_calls } : {}),
    ...(message.tool_name ? { tool_name: message.tool_name } : {}),
    ...(message.tool_call_id ? { tool_call_id: message.tool_call_id } : {}),
  }));
}

/** POST /api/chat. Without messages it only says whether the model is loaded (done_reason "load"), as Ollama does. */
export function chatRequestSchema(limits: Limits) {
  return z.strictObject(
    {
      ...commonFields(limits),
      messages: z
        .array(chatMessage(limits), { error: "expected an array of messages" })
        .max(limits.maxChatMessages, { error: `expected at most ${limits.maxChatMessages} messages` })
        .nullish(),
      tools: z.array(toolSchema, { error: "expected an array of tools" }).nullish(),
      /** A modelnode extension (Ollama has none: "auto"); see tools.ts. */
      tool_choice: toolChoiceSchema.nullish(),
    },
    { error: unknownKeys("a JSON object") },
  ).superRefine((body, ctx) => {
    topNeedsLogprobs(body, ctx);
    checkTools(body, ctx);
    const chars = (body.messages ?? []).reduce((sum, message) => sum + message.content.length, 0);
    if (chars > limits.maxChatChars) ctx.addIssue({ code: "custom", path: ["messages"], message: `the contents of the messages exceed ${limits.maxChatChars} characters in all` });
  }).transform(({ messages, ...body }) => ({ ...body, messages: messages ? linkToolTurns(messages) : messages }));
}

export type ChatBody = z.output<ReturnType<typeof chatRequestSchema>>;

/** POST /api/show: `model` (or its older name `name`); `verbose` is accepted (nothing more to show). */
export const showRequestSchema = z
  .strictObject(
    {
      model: model.optional(),
      name: model.optional(),
      verbose: z.boolean({ error: "expected true or false" }).nullish(),
    },
    { error: unknownKeys("a JSON object") },
  )
  .superRefine((body, ctx) => {
    if (body.model === undefined && body.name === undefined) ctx.addIssue({ code: "custom", path: ["model"], message: "required" });
  });
