/**
 * The request bodies of POST /v1/completions and POST /v1/chat/completions, typed strictly (nothing
 * is coerced) and bounded by the plugin's options. OpenAI's optional fields may be null, which
 * means "not given". Fields this node cannot honour (functions, echo, best_of, …) are
 * refused with a message naming them when they ask for something, and accepted when they ask for
 * the default; other fields are ignored.
 *
 * Structured output: `response_format` (OpenAI's json_object and json_schema, plus this node's
 * regex, grammar and choice), or vLLM's `guided_json`, `guided_regex`, `guided_grammar`,
 * `guided_choice`: at most one of them (docs/structured-output.md).
 *
 * Tool calling: `tools` (functions), `tool_choice`, `parallel_tool_calls`; assistant messages
 * with `tool_calls` and "tool" messages answering them (docs/structured-output.md, "Tool calling").
 */
import { grammarOfResponseFormat, responseFormatSchema, z, type RequestedGrammar, type ToolCall } from "@modelnode/core";
import type { ResolvedOpenAIOptions } from "./options.js";
import { checkTools, toolCallSchema, toolChoiceSchema, toolSchema } from "./tool-fields.js";

/** Most content parts in one chat message's `content` array. */
export const MAX_CONTENT_PARTS = 64;
/** Longest `model`, in characters. */
export const MAX_MODEL_CHARS = 256;

export type Limits = Omit<ResolvedOpenAIOptions, "defaults" | "ownedBy" | "maxBodyBytes">;

export const required = (what: string) => (issue: { input?: unknown }) => (issue.input === undefined ? "required" : `expected ${what}`);

export const boundedInt = (min: number, max?: number) => {
  const error = max === undefined ? `expected an integer ≥ ${min}` : `expected an integer from ${min} to ${max}`;
  const schema = z.int({ error }).min(min, { error });
  return max === undefined ? schema : schema.max(max, { error });
};

const numberIn = (what: string, check: (n: number) => boolean) =>
  z.number({ error: `expected ${what}` }).refine(check, { error: `expected ${what}` });

/**
 * A field this node does not support: absent, null, or a value for which `accept` holds (what
 * asks for the default) passes; anything else is refused with `message`.
 */
export const refused = (accept: (value: unknown) => boolean, message: string) =>
  z.unknown().refine((value) => value === undefined || value === null || accept(value), { error: message }).optional();

const isEmptyArray = (v: unknown) => Array.isArray(v) && v.length === 0;

/** Sampling and output fields both endpoints take (the Responses API takes some of them too). */
export function commonFields(limits: Limits) {
  return {
    model: z
      .string({ error: required("a model id (a string)") })
      .min(1, { error: "expected a model id" })
      .max(MAX_MODEL_CHARS, { error: `expected at most ${MAX_MODEL_CHARS} characters` }),
    max_tokens: boundedInt(1, limits.maxTokensLimit).nullish(),
    temperature: numberIn("a number from 0 to 2", (n) => n >= 0 && n <= 2).nullish(),
    top_p: numberIn("a number more than 0 and at most 1", (n) => n > 0 && n <= 1).nullish(),
    /** Not OpenAI's: a common extension (vLLM and others take it). */
    top_k: boundedInt(0).nullish(),
    seed: z.int({ error: "expected an integer" }).nullish(),
    stop: stopField(limits).optional(),
    stream: z.boolean({ error: "expected true or false" }).nullish(),
    stream_options: z
      .object({ include_usage: z.boolean({ error: "expected true or false" }).nullish() }, { error: "expected an object" })
      .nullish(),
    n: boundedInt(1, limits.maxChoices).nullish(),
    presence_penalty: numberIn("a number from -2 to 2", (n) => n >= -2 && n <= 2).nullish(),
    frequency_penalty: numberIn("a number from -2 to 2", (n) => n >= -2 && n <= 2).nullish(),
    /** Not OpenAI's: common extensions (vLLM and others take them). */
    min_p: numberIn("a number from 0 to 1", (n) => n >= 0 && n <= 1).nullish(),
    repetition_penalty: numberIn("a number more than 0 and at most 2", (n) => n > 0 && n <= 2).nullish(),
    /** Not OpenAI's: speculative decoding on or off for this request (the node's default when absent). */
    speculative: z.boolean({ error: "expected true or false" }).nullish(),
    logit_bias: logitBiasField(limits).optional(),
    response_format: responseFormatSchema.nullish(),
    /** vLLM's names for the same: a JSON schema (an object, or its JSON text), a regex, an EBNF grammar, a choice. */
    guided_json: z
      .unknown()
      .transform((value, ctx): Record<string, unknown> | null | undefined => {
        const parsed = typeof value === "string" ? parseJson(value) : value;
        if (value === undefined || value === null) return value;
        if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
        ctx.addIssue({ code: "custom", message: "expected a JSON schema (an object, or its JSON text)" });
        return z.NEVER;
      })
      .optional(),
    guided_regex: z.string({ error: "expected a regex (a string)" }).min(1, { error: "expected a regex" }).nullish(),
    guided_grammar: z.string({ error: "expected an EBNF grammar (a string)" }).min(1, { error: "expected a grammar" }).nullish(),
    guided_choice: z.array(z.string().min(1), { error: "expected an array of strings" }).min(1, { error: "expected at least one choice" }).nullish(),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const GUIDED = ["guided_json", "guided_regex", "guided_grammar", "guided_choice"] as const;

/** At most one structured-output field: a second one is an issue on its field. */
function oneGrammar(body: Partial<Record<(typeof GUIDED)[number] | "response_format", unknown>>, ctx: z.RefinementCtx): void {
  const given = [...(body.response_format && (body.response_format as { type?: unknown }).type !== "text" ? ["response_format"] : []), ...GUIDED.filter((key) => body[key] !== undefined && body[key] !== null)];
  if (given.length > 1) ctx.addIssue({ code: "custom", path: [given[1]], message: `give one of ${given.join(" and ")}, not both` });
}

/** The grammar a body asks for (response_format or a guided_* field), if any. */
export function requestedGrammar(body: CompletionRequest | ChatRequest): RequestedGrammar | undefined {
  const at = (field: string) => () => field;
  if (body.guided_json) return { grammar: { type: "json_schema", schema: body.guided_json }, field: at("guided_json") };
  if (body.guided_regex) return { grammar: { type: "regex", pattern: body.guided_regex }, field: at("guided_regex") };
  if (body.guided_grammar) return { grammar: { type: "grammar", grammar: body.guided_grammar }, field: at("guided_grammar") };
  if (body.guided_choice) return { grammar: { type: "choice", choices: [...body.guided_choice] }, field: at("guided_choice") };
  return grammarOfResponseFormat(body.response_format);
}

/**
 * `logit_bias`: token ids (as JSON keys) → a bias from −100 to 100 (null: none). Whether each id
 * is in the model's vocabulary is the pipeline's check (a 400 naming `logit_bias` too).
 */
function logitBiasField(limits: Limits) {
  return z.unknown().transform((value, ctx): Record<number, number> | undefined => {
    const fail = (message: string) => {
      ctx.addIssue({ code: "custom", message });
      return z.NEVER;
    };
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "object" || Array.isArray(value)) return fail("expected an object mapping token ids to biases");
    const entries = Object.entries(value);
    if (entries.length > limits.maxLogitBias) return fail(`expected at most ${limits.maxLogitBias} tokens`);
    const out: Record<number, number> = {};
    for (const [key, bias] of entries) {
      const what = key.length > 32 ? `${key.slice(0, 32)}…` : key;
      if (!/^\d{1,9}$/.test(key)) return fail(`expected token ids as keys (got "${what}")`);
      if (typeof bias !== "number" || !Number.isFinite(bias) || bias < -100 || bias > 100) return fail(`expected a number from -100 to 100 for token ${what}`);
      out[Number(key)] = bias;
    }
    return out;
  });
}

/** `stop`: a string or an array of strings (null: none), as a list. */
function stopField(limits: Limits) {
  const each = `expected a string of 1 to ${limits.maxStopChars} characters`;
  return z.unknown().transform((value, ctx): string[] | undefined => {
    if (value === undefined || value === null) return undefined;
    const list = typeof value === "string" ? [value] : value;
    if (!Array.isArray(list)) {
      ctx.addIssue({ code: "custom", message: "expected a string or an array of strings" });
      return z.NEVER;
    }
    if (list.length > limits.maxStopSequences) {
      ctx.addIssue({ code: "custom", message: `expected at most ${limits.maxStopSequences} stop sequences` });
      return z.NEVER;
    }
    let ok = true;
    list.forEach((item: unknown, i) => {
      if (typeof item !== "string" || item.length === 0 || item.length > limits.maxStopChars) {
        ctx.addIssue({ code: "custom", message: each, path: typeof value === "string" ? [] : [i] });
        ok = false;
      }
    });
    return ok ? [...(list as string[])] : z.NEVER;
  });
}

/** `prompt`: a text, or an array holding exactly one text. Token-id prompts and several prompts are refused. */
function promptField(limits: Limits) {
  const tooLong = `expected at most ${limits.maxPromptChars} characters`;
  return z.unknown().transform((value, ctx) => {
    const fail = (message: string) => {
      ctx.addIssue({ code: "custom", message });
      return z.NEVER;
    };
    let text = value;
    if (Array.isArray(value)) {
      if (value.length === 0) return fail("expected a text (an empty array holds no prompt)");
      if (value.some((item) => typeof item === "number" || Array.isArray(item))) {
        return fail("token-id prompts are not supported: send the prompt as text");
      }
      if (value.length > 1) return fail(`only one prompt per request is supported (got ${value.length}): send one request per prompt`);
      text = value[0];
    }
    if (value === undefined) return fail("required");
    if (typeof text !== "string") return fail("expected a text (a string)");
    if (text.length === 0) return fail("expected a non-empty text");
    if (text.length > limits.maxPromptChars) return fail(tooLong);
    return text;
  });
}

/** POST /v1/completions. */
export function completionRequestSchema(limits: Limits) {
  return z.object(
    {
      ...commonFields(limits),
      prompt: promptField(limits),
      echo: refused((v) => v === false, "not supported: the prompt is never repeated in the completion"),
      best_of: refused((v) => v === 1, "only 1 is supported"),
      logprobs: boundedInt(0, limits.maxTopLogprobs).nullish(),
      suffix: refused((v) => v === "", "not supported: this node does not insert text"),
    },
    { error: "expected a JSON object" },
  ).superRefine(oneGrammar);
}

export type CompletionRequest = z.output<ReturnType<typeof completionRequestSchema>>;

/** A chat as the pipeline takes it. */
export interface ChatTurn {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

const ROLES = new Set(["system", "developer", "user", "assistant", "tool"]);

/** One entry of `messages`, its content joined into one text (text parts joined with "\n"). */
function chatMessage(limits: Limits) {
  const tooLong = `expected at most ${limits.maxChatChars} characters`;
  /** A string, or an array of `{"type": "text", "text"}` parts joined with "\n"; null stays null (checked below). */
  const content = z.unknown().transform((value, ctx): string | null | undefined => {
    const fail = (message: string, path: (string | number)[] = []) => {
      ctx.addIssue({ code: "custom", message, path });
      return z.NEVER;
    };
    if (value === undefined || value === null) return value;
    if (typeof value === "string") return value.length > limits.maxChatChars ? fail(tooLong) : value;
    if (!Array.isArray(value)) return fail("expected a string or an array of text parts");
    if (value.length > MAX_CONTENT_PARTS) return fail(`expected at most ${MAX_CONTENT_PARTS} content parts`);
    const texts: string[] = [];
    for (let i = 0; i < value.length; i++) {
      const part: unknown = value[i];
      if (typeof part !== "object" || part === null || Array.isArray(part)) return fail('expected a content part ({"type": "text", "text": …})', [i]);
      const { type, text } = part as { type?: unknown; text?: unknown };
      if (type !== "text") {
        return fail(
          typeof type === "string" ? `only text content parts are supported (got "${type.slice(0, 32)}")` : 'expected "text"',
          [i, "type"],
        );
      }
      if (typeof text !== "string") return fail(text === undefined ? "required" : "expected a string", [i, "text"]);
      texts.push(text);
    }
    const joined = texts.join("\n");
    return joined.length > limits.maxChatChars ? fail(tooLong) : joined;
  });
  return z
    .object(
      {
        role: z
          .string({ error: required("a role (a string)") })
          .refine((role) => ROLES.has(role), {
            error: (issue) =>
              issue.input === "function"
                ? "function messages (the deprecated functions API) are not supported: use tools and tool messages"
                : "expected one of system, developer, user, assistant, tool",
          }),
        content: content.optional(),
        tool_calls: z.array(toolCallSchema, { error: "expected an array of tool calls" }).max(limits.maxChatMessages, { error: `expected at most ${limits.maxChatMessages} calls` }).nullish(),
        tool_call_id: z.string({ error: "expected a string" }).min(1).max(64, { error: "expected at most 64 characters" }).nullish(),
        function_call: refused(() => false, "not supported: the deprecated functions API; use tool_calls"),
      },
      { error: "expected a message object ({\"role\", \"content\"})" },
    )
    .superRefine((message, ctx) => {
      // An assistant turn may leave content out (null); every other turn has one.
      if ((message.content === undefined || message.content === null) && message.role !== "assistant" && ROLES.has(message.role)) {
        ctx.addIssue({ code: "custom", path: ["content"], message: "required" });
      }
      if (message.tool_calls && message.tool_calls.length > 0 && message.role !== "assistant") {
        ctx.addIssue({ code: "custom", path: ["tool_calls"], message: "only assistant messages carry tool calls" });
      }
      if (message.role === "tool" && !message.tool_call_id) ctx.addIssue({ code: "custom", path: ["tool_call_id"], message: "required in a tool message" });
    })
    .transform((message): ChatTurn => {
      const turn: ChatTurn = { role: message.role === "developer" ? "system" : (message.role as ChatTurn["role"]), content: message.content ?? "" };
      if (message.tool_calls && message.tool_calls.length > 0) turn.tool_calls = message.tool_calls;
      if (message.tool_call_id) turn.tool_call_id = message.tool_call_id;
      return turn;
    });
}

/** POST /v1/chat/completions. */
export function chatRequestSchema(limits: Limits) {
  return z
    .object(
      {
        ...commonFields(limits),
        messages: z
          .array(chatMessage(limits), { error: required("an array of messages") })
          .min(1, { error: "expected at least one message" })
          .max(limits.maxChatMessages, { error: `expected at most ${limits.maxChatMessages} messages` }),
        max_completion_tokens: boundedInt(1, limits.maxTokensLimit).nullish(),
        logprobs: z.boolean({ error: "expected true or false" }).nullish(),
        top_logprobs: boundedInt(0, limits.maxTopLogprobs).nullish(),
        tools: z.array(toolSchema, { error: "expected an array of tools" }).nullish(),
        tool_choice: toolChoiceSchema.nullish(),
        parallel_tool_calls: z.boolean({ error: "expected true or false" }).nullish(),
        functions: refused(isEmptyArray, "not supported: the deprecated functions API; use tools"),
        function_call: refused((v) => v === "none", "not supported: the deprecated functions API; use tool_choice"),
        modalities: refused((v) => Array.isArray(v) && v.length === 1 && v[0] === "text", 'only ["text"] is supported'),
        audio: refused(() => false, "not supported: this node produces text only"),
      },
      { error: "expected a JSON object" },
    )
    .superRefine((body, ctx) => {
      oneGrammar(body, ctx);
      if (
        typeof body.max_tokens === "number" &&
        typeof body.max_completion_tokens === "number" &&
        body.max_tokens !== body.max_completion_tokens
      ) {
        ctx.addIssue({ code: "custom", path: ["max_completion_tokens"], message: "differs from max_tokens: send one of them" });
      }
      checkTools(body, ctx);
      if (typeof body.top_logprobs === "number" && body.top_logprobs > 0 && body.logprobs !== true) {
        ctx.addIssue({ code: "custom", path: ["top_logprobs"], message: "needs logprobs: true" });
      }
      checkChatChars(body.messages, limits, ctx);
    });
}

export type ChatRequest = z.output<ReturnType<typeof chatRequestSchema>>;

/** The messages' text contents, all together, within maxChatChars (chat completions and /tokenize alike). */
export function checkChatChars(messages: readonly { content?: unknown }[] | undefined, limits: Limits, ctx: z.RefinementCtx): void {
  if (!Array.isArray(messages)) return;
  let chars = 0;
  for (const message of messages) chars += typeof message?.content === "string" ? message.content.length : 0;
  if (chars > limits.maxChatChars) {
    ctx.addIssue({ code: "custom", path: ["messages"], message: `the contents of the messages exceed ${limits.maxChatChars} characters in all` });
  }
}

/** POST /tokenize (vLLM's): `prompt` or `messages` (rendered with the model's template), within the same limits as completions and chat. */
export function tokenizeRequestSchema(limits: Limits) {
  const { model } = commonFields(limits);
  return z
    .object(
      {
        model,
        prompt: promptField(limits).optional(),
        messages: z
          .array(chatMessage(limits), { error: "expected an array of messages" })
          .min(1, { error: "expected at least one message" })
          .max(limits.maxChatMessages, { error: `expected at most ${limits.maxChatMessages} messages` })
          .optional(),
        add_generation_prompt: refused((v) => v === true, "only true is supported: a chat is tokenized as a generation's prompt"),
        add_special_tokens: refused((v) => v === true, "only true is supported: the text is tokenized as a prompt"),
        /** With messages: rendered with the chat, as a chat completion offering them renders them. */
        tools: z.array(toolSchema, { error: "expected an array of tools" }).nullish(),
      },
      { error: "expected a JSON object" },
    )
    .superRefine((body, ctx) => {
      const hasPrompt = body.prompt !== undefined;
      const hasMessages = body.messages !== undefined;
      if (hasPrompt === hasMessages) {
        ctx.addIssue({ code: "custom", path: [hasPrompt ? "messages" : "prompt"], message: hasPrompt ? "send either prompt or messages, not both" : "required (or messages)" });
      }
      checkChatChars(body.messages, limits, ctx);
      if (hasPrompt && body.tools && body.tools.length > 0) ctx.addIssue({ code: "custom", path: ["tools"], message: "only with messages (a prompt renders no tools)" });
    });
}

export type TokenizeRequest = z.output<ReturnType<typeof tokenizeRequestSchema>>;

/** POST /detokenize (vLLM's): token ids, at most `maxPromptChars` of them (a token holds at least one character). */
export function detokenizeRequestSchema(limits: Limits) {
  const { model } = commonFields(limits);
  const id = "expected an array of token ids (integers ≥ 0)";
  return z.object(
    {
      model,
      tokens: z
        .array(z.int({ error: id }).min(0, { error: id }), { error: required("an array of token ids (integers ≥ 0)") })
        .max(limits.maxPromptChars, { error: `expected at most ${limits.maxPromptChars} token ids` }),
    },
    { error: "expected a JSON object" },
  );
}

export type DetokenizeRequest = z.output<ReturnType<typeof detokenizeRequestSchema>>;
