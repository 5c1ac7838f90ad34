/** inference_request, inference_cancel and list_models payloads, typed strictly: nothing is coerced. */
import { responseFormatSchema, TOOL_NAME_PATTERN, z } from "@modelnode/core";
import type { ResolvedInferenceOptions } from "./options.js";

/** Longest `role` in `messages`, in characters. */
export const MAX_ROLE_CHARS = 64;

/** Longest `resume.sampler_state`, in characters (an opaque state a node itself produced: small). */
export const MAX_SAMPLER_STATE_CHARS = 1024;

/** A function's name, as OpenAI allows it. */
const functionName = z.string().regex(TOOL_NAME_PATTERN, { error: 'Expected 1 to 64 letters, digits, "_" or "-".' });

/** A call the model made, as OpenAI writes it: `arguments` is the JSON text of an object. */
export const toolCallSchema = z.object({
  id: z.string().min(1).max(64),
  type: z.literal("function"),
  function: z.object({ name: functionName, arguments: z.string() }),
});
export type ToolCallEntry = z.infer<typeof toolCallSchema>;

/** One of `tools`: OpenAI's function tool (`parameters`: a JSON schema of the arguments object). */
export const toolSchema = z.object({
  type: z.literal("function"),
  function: z.object({
    name: functionName,
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type Tool = z.infer<typeof toolSchema>;

export const toolChoiceSchema = z.union([z.enum(["auto", "none", "required"]), z.object({ type: z.literal("function"), function: z.object({ name: functionName }) })]);
export type ToolChoiceOption = z.infer<typeof toolChoiceSchema>;

/**
 * inference_request: `prompt` or `messages` (exactly one; the other, or neither, is
 * VALIDATION_FAILED naming the field), the sampling fields, `stream`, `response_format`
 * (structured output: OpenAI's shape plus regex, grammar and choice; docs/structured-output.md)
 * and tool calling (`tools`, `tool_choice`, `parallel_tool_calls`: OpenAI's shapes). `resumable`
 * asks for resume data in each chunk; `resume` continues a generation from it (docs/protocol.md,
 * "Resuming a stream").
 */
export function inferenceRequestSchema(limits: Omit<ResolvedInferenceOptions, "defaults">) {
  const stopText = z.string().min(1).max(limits.maxStopChars);
  const chatMessage = z.object({
    role: z.string().min(1).max(MAX_ROLE_CHARS),
    content: z.string().max(limits.maxChatChars),
    /** An assistant turn's calls (role "assistant"). */
    tool_calls: z.array(toolCallSchema).max(limits.maxChatMessages).optional(),
    /** A "tool" turn: the id of the call it answers. */
    tool_call_id: z.string().min(1).max(64).optional(),
  });
  return z
    .object({
      model_id: z.string().min(1).max(256),
      prompt: z.string().min(1).max(limits.maxPromptChars).optional(),
      messages: z.array(chatMessage).min(1).max(limits.maxChatMessages).optional(),
      max_tokens: z.int().min(1).max(limits.maxTokensLimit).optional(),
      temperature: z.number().min(0).max(2).optional(),
      top_p: z.number().gt(0).max(1).optional(),
      top_k: z.int().min(0).optional(),
      seed: z.int().min(0).optional(),
      min_p: z.number().min(0).max(1).optional(),
      presence_penalty: z.number().min(-2).max(2).optional(),
      frequency_penalty: z.number().min(-2).max(2).optional(),
      repetition_penalty: z.number().gt(0).max(2).optional(),
      logit_bias: z
        .record(z.string().regex(/^\d{1,9}$/, { error: "Keys are token ids." }), z.number().min(-100).max(100))
        .refine((bias) => Object.keys(bias).length <= limits.maxLogitBias, { error: `At most ${limits.maxLogitBias} tokens.` })
        .optional(),
      logprobs: z.boolean().optional(),
      top_logprobs: z.int().min(0).max(limits.maxTopLogprobs).optional(),
      stop: z.union([stopText, z.array(stopText).max(limits.maxStopSequences)]).optional(),
      stream: z.boolean().optional(),
      response_format: responseFormatSchema.optional(),
      tools: z.array(toolSchema).min(1).optional(),
      tool_choice: toolChoiceSchema.optional(),
      parallel_tool_calls: z.boolean().optional(),
      speculative: z.boolean().optional(),
      resumable: z.boolean().optional().describe("With stream: true: each inference_chunk carries resume data (token_ids, delivered_chars, sampler_state). Not with tools."),
      resume: z
        .object({
          generated_ids: z.array(z.int().min(0)).max(limits.maxTokensLimit).describe("Every token id generated so far (the chunks' token_ids joined); no more than max_tokens."),
          delivered_chars: z.int().min(0).describe("Characters of text received so far (the last chunk's delivered_chars)."),
          sampler_state: z.string().min(1).max(MAX_SAMPLER_STATE_CHARS).optional().describe("The last chunk's sampler_state, when it had one."),
        })
        .optional()
        .describe("Continue a generation from its resume data: the chunks carry only what follows; the response's text and usage are the whole generation's. Not with tools."),
    })
    .superRefine((msg, ctx) => {
      checkResume(msg, limits, ctx);
      const tools = Array.isArray(msg.tools) ? msg.tools : [];
      const choice = msg.tool_choice;
      if (choice !== undefined && choice !== "none" && tools.length === 0) ctx.addIssue({ code: "custom", path: ["tool_choice"], message: "tool_choice needs tools." });
      if (typeof choice === "object" && choice !== null && tools.length > 0 && !tools.some((tool) => (tool as { function?: { name?: unknown } } | null)?.function?.name === (choice as { function?: { name?: unknown } }).function?.name)) {
        ctx.addIssue({ code: "custom", path: ["tool_choice"], message: "tool_choice names a function that is not one of the tools." });
      }
      if (tools.length > 0 && msg.prompt !== undefined) ctx.addIssue({ code: "custom", path: ["tools"], message: "Tools need messages (a chat), not a prompt." });
      // zod runs this even when a field failed: a field that failed is still present here.
      if (msg.top_logprobs !== undefined && msg.top_logprobs > 0 && msg.logprobs !== true) {
        ctx.addIssue({ code: "custom", path: ["top_logprobs"], message: "top_logprobs needs logprobs: true." });
      }
      if (msg.prompt !== undefined && msg.messages !== undefined) {
        ctx.addIssue({ code: "custom", path: ["messages"], message: "Give either prompt or messages, not both." });
      } else if (msg.prompt === undefined && msg.messages === undefined) {
        ctx.addIssue({ code: "custom", path: ["prompt"], message: "Give prompt (a text) or messages (a chat)." });
      } else if (Array.isArray(msg.messages)) {
        let chars = 0;
        for (const message of msg.messages) chars += typeof message?.content === "string" ? message.content.length : 0;
        if (chars > limits.maxChatChars) {
          ctx.addIssue({ code: "custom", path: ["messages"], message: `The contents of messages exceed ${limits.maxChatChars} characters in all.` });
        }
      }
    });
}

export type InferenceRequest = z.infer<ReturnType<typeof inferenceRequestSchema>>;

/**
 * `resumable` (ask for resume data in each chunk) and `resume` (continue from it): streams only
 * for the first; neither with tools (the calls are parsed from the text, which a resumed reply
 * holds only in part); `resume.generated_ids` no more than the request's max_tokens, and no
 * characters delivered without ids.
 */
function checkResume(msg: Record<string, unknown>, limits: { maxTokensLimit: number }, ctx: z.RefinementCtx): void {
  const tools = Array.isArray(msg.tools) && msg.tools.length > 0 && msg.tool_choice !== "none";
  if (msg.resumable === true && msg.stream !== true) ctx.addIssue({ code: "custom", path: ["resumable"], message: "resumable needs stream: true (resume data travels in the chunks)." });
  if (msg.resumable === true && tools) ctx.addIssue({ code: "custom", path: ["resumable"], message: "A generation with tools cannot be resumed." });
  const resume = msg.resume as { generated_ids?: unknown; delivered_chars?: unknown } | undefined;
  if (resume === undefined || resume === null || typeof resume !== "object") return;
  if (tools) ctx.addIssue({ code: "custom", path: ["resume"], message: "A generation with tools cannot be resumed." });
  const ids = Array.isArray(resume.generated_ids) ? resume.generated_ids.length : 0;
  const maxTokens = typeof msg.max_tokens === "number" ? msg.max_tokens : limits.maxTokensLimit;
  if (ids > maxTokens) ctx.addIssue({ code: "custom", path: ["resume", "generated_ids"], message: `${ids} ids, more than max_tokens (${maxTokens}).` });
  if (ids === 0 && typeof resume.delivered_chars === "number" && resume.delivered_chars > 0) {
    ctx.addIssue({ code: "custom", path: ["resume", "delivered_chars"], message: "Characters delivered without generated ids." });
  }
}

/** inference_cancel: the message_id of an inference_request in flight on this connection. */
export const inferenceCancelSchema = z.object({
  target_message_id: z.string().min(1).max(256),
});

export type InferenceCancel = z.infer<typeof inferenceCancelSchema>;

/** list_models takes no fields (unknown ones are ignored). */
export const listModelsSchema = z.object({});

/**
 * The replies, beside their header: declared by the handlers as replySchema / replies, so the
 * AsyncAPI document describes them and the compiler and the tests hold the handlers to them.
 */
const count = () => z.int().min(0);

/** One of the likeliest tokens at a position (`top_logprobs`). */
export const tokenAlternativeSchema = z.object({
  token: z.string().describe("The token's text alone (a piece of a character that spans tokens reads U+FFFD)."),
  token_id: count(),
  logprob: z.number().describe("Natural log of its probability: after the penalties and logit_bias, over the temperature (1 when greedy), before top-k/top-p/min-p (docs/sampling.md); never below -9999."),
  bytes: z.array(z.int().min(0).max(255)).describe("Its UTF-8 bytes (exact, also for a piece of a character)."),
});
export type TokenAlternativeLogprob = z.infer<typeof tokenAlternativeSchema>;

/** A generated token's log probability (with `logprobs: true`). */
export const tokenLogprobSchema = tokenAlternativeSchema.extend({
  top_logprobs: z.array(tokenAlternativeSchema).describe("The top_logprobs likeliest tokens at its position, likeliest first (empty for 0)."),
});
export type TokenLogprobEntry = z.infer<typeof tokenLogprobSchema>;

export const inferenceResponseSchema = z.object({
  model_id: z.string().describe("The request's."),
  text: z.string().describe("The generated text (streamed: the chunks' texts joined); with tools, the text outside the calls."),
  tool_calls: z.array(toolCallSchema).optional().describe("With tools: the calls the model made, in order (absent when none)."),
  finish_reason: z
    .enum(["stop", "length", "cancelled", "tool_calls"])
    .describe('"length": max_tokens or the context length reached; "stop": the end-of-sequence token or a stop sequence; "tool_calls": it ended after tool calls; "cancelled": inference_cancel, or the node began shutting down.'),
  usage: z.object({
    prompt_tokens: count(),
    completion_tokens: count(),
    cached_tokens: count().optional().describe("Prompt tokens served by the node's prefix cache instead of being computed (absent when none, or when the model's pipeline cannot say)."),
  }),
  logprobs: z.array(tokenLogprobSchema).optional().describe("With logprobs: true: one entry per generated token whose text is in text."),
});
export type InferenceResponse = z.infer<typeof inferenceResponseSchema>;

/** With `stream: true`: a piece of text as it is generated; the stream ends with the inference_response. */
export const inferenceChunkSchema = z.object({
  model_id: z.string().describe("The request's."),
  index: count().describe("0, 1, 2 … in order of production."),
  text: z.string().describe("A piece of the text; empty only in a chunk that carries a tool_call."),
  tool_call: toolCallSchema
    .extend({ index: count().describe("0, 1, 2 … the call's place among the reply's calls.") })
    .optional()
    .describe("With tools: a call, whole, as soon as the model has closed it."),
  logprobs: z.array(tokenLogprobSchema).optional().describe("With logprobs: true: the entries of the tokens whose text this chunk holds."),
  token_ids: z
    .array(count())
    .optional()
    .describe("With resumable: true: the token ids generated since the previous chunk (their text may be partly held back until a later chunk). Absent: the node's pipeline does not say them, and the stream cannot be resumed."),
  delivered_chars: count().optional().describe("With resumable: true: the characters (UTF-16 code units) of text delivered so far, this chunk's included (a resumed request's earlier ones too)."),
  sampler_state: z.string().optional().describe("With resumable: true, where the pipeline has one: the sampler's state right after this chunk's last token id (opaque; send it back in resume.sampler_state)."),
});
export type InferenceChunk = z.infer<typeof inferenceChunkSchema>;

export const inferenceCancelResponseSchema = z.object({
  target_message_id: z.string().describe("The request's, echoed."),
  cancelled: z.literal(true).describe("Always true: a cancel that finds nothing to cancel is a REQUEST_NOT_FOUND error instead."),
});
export type InferenceCancelResponse = z.infer<typeof inferenceCancelResponseSchema>;

export const listModelsResponseSchema = z.object({
  models: z.array(
    z.object({
      id: z.string().describe("What to send as model_id."),
      context_length: count().describe("Tokens the model holds, prompt and generation together."),
      vocab_size: count(),
      description: z.string().optional(),
      has_chat_template: z.boolean().optional().describe("Whether a chat (messages) gets the model's own template; absent when the pipeline does not say."),
      alias_of: z.string().optional().describe("For an id that is another name of a model: the id it is served under."),
      state: z.enum(["loaded", "loading", "unloaded"]).optional().describe("Whether the model is in memory now; absent when the pipeline keeps every model loaded (see docs/models.md)."),
      size_bytes: count().optional().describe("Memory the model takes, or would take, when loaded (an estimate from its files); absent when unknown."),
    }),
  ),
});
export type ListModelsResponse = z.infer<typeof listModelsResponseSchema>;
