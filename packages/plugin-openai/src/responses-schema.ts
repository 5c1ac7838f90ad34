/**
 * The body of POST /v1/responses (OpenAI's Responses API), typed strictly and bounded by the
 * plugin's options, as the chat endpoints' bodies are (schema.ts). What this node cannot do is
 * refused by name: conversations, background runs, stored prompts, hosted tools (web search,
 * files, computers…), non-text input. Fields that only tune what OpenAI's own service does
 * (`reasoning`, `service_tier`, `truncation`, `prompt_cache_key`, `safety_identifier`, `user`)
 * are accepted and change nothing
 * (docs/plugin-openai.md, "Responses API").
 */
import { grammarOfResponseFormat, responseFormatSchema, TOOL_NAME_PATTERN, z, type RequestedGrammar, type ToolChoice, type ToolSpec } from "@modelnode/core";
import { inputField } from "./responses-input.js";
import { boundedInt, commonFields, refused, type Limits } from "./schema.js";
import { checkTools } from "./tool-fields.js";

const isEmptyArray = (v: unknown) => Array.isArray(v) && v.length === 0;

/** The function's name, as OpenAI allows it. */
const functionName = z.string({ error: "expected a function name (a string)" }).regex(TOOL_NAME_PATTERN, { error: 'expected 1 to 64 letters, digits, "_" or "-"' });

/** One of `tools`: `{"type": "function", "name", "description"?, "parameters"?, "strict"?}` (flat, unlike chat's). */
const toolSchema = z
  .object(
    {
      type: z.string({ error: 'expected "function"' }).refine((type) => type === "function", {
        error: (issue) => `only function tools are supported (got "${String(issue.input).slice(0, 32)}")`,
      }),
      name: functionName,
      description: z.string({ error: "expected a string" }).nullish(),
      parameters: z.record(z.string(), z.unknown(), { error: "expected a JSON schema (an object)" }).nullish(),
      strict: z.boolean({ error: "expected true or false" }).nullish(),
    },
    { error: 'expected {"type": "function", "name", "parameters"}' },
  )
  .transform(({ name, description, parameters }): ToolSpec => ({ type: "function", function: { name, ...(description ? { description } : {}), ...(parameters ? { parameters } : {}) } }));

const toolChoiceSchema = z.union(
  [z.enum(["auto", "none", "required"]), z.object({ type: z.literal("function"), name: functionName })],
  { error: 'expected "auto", "none", "required" or {"type": "function", "name"}' },
);

/**
 * `text.format`: OpenAI's `text`, `json_object` and `json_schema` (flat: `{"type": "json_schema",
 * "name", "schema", "strict"}`), and this node's `regex`, `grammar` and `choice` as in `response_format`.
 */
const formatSchema = z.unknown().transform((value, ctx) => {
  if (value === undefined || value === null) return undefined;
  const flat = value as { type?: unknown; name?: unknown; description?: unknown; schema?: unknown; strict?: unknown };
  // The chat's response_format shape, so that one schema checks both.
  const nested = flat?.type === "json_schema" ? { type: "json_schema", json_schema: { name: flat.name, description: flat.description, schema: flat.schema, strict: flat.strict } } : value;
  const parsed = responseFormatSchema.safeParse(nested);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const path = issue.path[0] === "json_schema" ? issue.path.slice(1) : issue.path;
    ctx.addIssue({ code: "custom", message: issue.message, path: path as (string | number)[] });
  }
  return z.NEVER;
});

/** What `include` may name: the logprobs are served, the rest name things this node never makes. */
const INCLUDABLE = new Set([
  "message.output_text.logprobs",
  "reasoning.encrypted_content",
  "file_search_call.results",
  "web_search_call.results",
  "web_search_call.action.sources",
  "message.input_image.image_url",
  "computer_call_output.output.image_url",
  "code_interpreter_call.outputs",
]);

export function responsesRequestSchema(limits: Limits) {
  const common = commonFields(limits);
  return z
    .object(
      {
        model: common.model,
        input: inputField(limits),
        instructions: z.string({ error: "expected a string" }).max(limits.maxChatChars, { error: `expected at most ${limits.maxChatChars} characters` }).nullish(),
        max_output_tokens: boundedInt(1, limits.maxTokensLimit).nullish(),
        temperature: common.temperature,
        top_p: common.top_p,
        stream: common.stream,
        stream_options: z.object({ include_obfuscation: z.boolean().nullish() }, { error: "expected an object" }).nullish(),
        tools: z.array(toolSchema, { error: "expected an array of tools" }).nullish(),
        tool_choice: toolChoiceSchema.nullish(),
        parallel_tool_calls: z.boolean({ error: "expected true or false" }).nullish(),
        max_tool_calls: boundedInt(1).nullish(),
        text: z.object({ format: formatSchema.optional(), verbosity: z.enum(["low", "medium", "high"]).nullish() }, { error: "expected an object" }).nullish(),
        include: z
          .array(z.string().refine((name) => INCLUDABLE.has(name), { error: (issue) => `not a known include ("${String(issue.input).slice(0, 48)}")` }), { error: "expected an array of strings" })
          .nullish(),
        top_logprobs: boundedInt(0, limits.maxTopLogprobs).nullish(),
        metadata: z.record(z.string(), z.string().max(512), { error: "expected an object of strings" }).refine((m) => Object.keys(m).length <= 16, { error: "expected at most 16 keys" }).nullish(),
        /** Default true, as OpenAI's: the node keeps the response (response-store.ts). */
        store: z.boolean({ error: "expected true or false" }).nullish(),
        // Accepted, and they change nothing here (see the file's comment).
        truncation: z.enum(["auto", "disabled"], { error: 'expected "auto" or "disabled"' }).nullish(),
        user: z.string({ error: "expected a string" }).nullish(),
        // Not OpenAI's Responses fields: the same extensions the chat endpoint takes.
        top_k: common.top_k,
        min_p: common.min_p,
        seed: common.seed,
        stop: common.stop,
        presence_penalty: common.presence_penalty,
        frequency_penalty: common.frequency_penalty,
        repetition_penalty: common.repetition_penalty,
        speculative: common.speculative,
        logit_bias: common.logit_bias,
        // What needs stored state or hosted machinery.
        previous_response_id: z.string({ error: "expected a response id (a string)" }).min(1, { error: "expected a response id" }).max(128, { error: "expected at most 128 characters" }).nullish(),
        conversation: refused(() => false, "not supported: conversation objects; continue with previous_response_id, or send the whole conversation in input"),
        background: refused((v) => v === false, "not supported: responses run while the request is open"),
        prompt: refused(() => false, "not supported: stored prompts; send instructions and input"),
        modalities: refused((v) => isEmptyArray(v) || (Array.isArray(v) && v.length === 1 && v[0] === "text"), 'only ["text"] is supported'),
      },
      { error: "expected a JSON object" },
    )
    .superRefine((body, ctx) => {
      // checkTools reads chat's shapes: a named choice as {"function": {"name"}}.
      const choice = typeof body.tool_choice === "object" && body.tool_choice !== null ? { function: { name: body.tool_choice.name } } : body.tool_choice;
      checkTools({ tools: body.tools, tool_choice: choice }, ctx);
      if (typeof body.top_logprobs === "number" && body.top_logprobs > 0 && !body.include?.includes("message.output_text.logprobs")) {
        ctx.addIssue({ code: "custom", path: ["top_logprobs"], message: 'needs include: ["message.output_text.logprobs"]' });
      }
      const instructions = body.instructions?.length ?? 0;
      const input = Array.isArray(body.input) ? body.input.reduce((sum, turn) => sum + (turn?.content?.length ?? 0), 0) : 0;
      if (instructions + input > limits.maxChatChars) ctx.addIssue({ code: "custom", path: ["input"], message: `instructions and input exceed ${limits.maxChatChars} characters in all` });
    });
}

export type ResponsesRequest = z.output<ReturnType<typeof responsesRequestSchema>>;

/** The pipeline's tool choice for the body's. */
export function pipelineToolChoice(choice: ResponsesRequest["tool_choice"]): ToolChoice | undefined {
  if (choice === undefined || choice === null) return undefined;
  return typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } };
}

/** The grammar `text.format` asks for, its errors naming `text.format.…` (the schema's fields sit flat in it). */
export function responsesGrammar(body: ResponsesRequest): RequestedGrammar | undefined {
  const requested = grammarOfResponseFormat(body.text?.format, "text.format");
  return requested && { grammar: requested.grammar, field: (field) => requested.field(field).replace("text.format.json_schema.", "text.format.") };
}
