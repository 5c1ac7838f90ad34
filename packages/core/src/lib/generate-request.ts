/**
 * The GenerateRequest a client's request becomes: one mapping for every front door that starts
 * generations (the inference plugin's inference_request, the OpenAI API), so that one node
 * answers both alike. Sampling the request and the operator leave open stays open: the pipeline
 * (and the model's generation_config.json) decides.
 */
import type { z } from "zod";
import type { samplingDefaultsSchema } from "./generation-options.js";
import type { ChatMessage, GenerateRequest, GrammarSpec, ToolChoice, ToolSpec } from "./pipeline.js";

/** A plugin's sampling defaults (its resolved `defaults` option). */
export type SamplingDefaults = z.output<typeof samplingDefaultsSchema>;

/** What a request asked for, in the pipeline's names. A field left out (or null) takes the default. */
export interface RequestedGeneration {
  modelId: string;
  /** Give exactly one of `prompt` and `messages` (`messages` wins when both are there). */
  prompt?: string;
  messages?: readonly ChatMessage[];
  maxTokens?: number | null;
  temperature?: number | null;
  topP?: number | null;
  topK?: number | null;
  seed?: number | null;
  /** One stop sequence or several. */
  stop?: string | string[];
  minP?: number | null;
  presencePenalty?: number | null;
  frequencyPenalty?: number | null;
  repetitionPenalty?: number | null;
  logitBias?: Readonly<Record<number, number>> | null;
  /** Log probabilities: the chosen tokens', and this many alternatives' per position (0: none). */
  logprobs?: number | null;
  /** Speculative decoding on (true) or off (false) for this request; absent: the node's default. */
  speculative?: boolean | null;
  /** Structured output (see response-format.ts). */
  grammar?: GrammarSpec;
  /** Tool calling (GenerateRequest.tools): the functions, which to call, whether several. */
  tools?: ToolSpec[] | null;
  toolChoice?: ToolChoice | null;
  parallelToolCalls?: boolean | null;
}

const OPTIONAL_FIELDS = ["minP", "presencePenalty", "frequencyPenalty", "repetitionPenalty", "logitBias", "logprobs", "speculative"] as const;

export function buildGenerateRequest(requested: RequestedGeneration, defaults: SamplingDefaults, signal: AbortSignal): GenerateRequest {
  const request: GenerateRequest = { modelId: requested.modelId, maxTokens: requested.maxTokens ?? defaults.maxTokens, signal };
  const temperature = requested.temperature ?? defaults.temperature;
  const topP = requested.topP ?? defaults.topP;
  const topK = requested.topK ?? defaults.topK;
  if (temperature !== undefined) request.temperature = temperature;
  if (topP !== undefined) request.topP = topP;
  if (topK !== undefined) request.topK = topK;
  // Only a turn's known fields: a client's extra fields do not reach the chat template.
  if (requested.messages !== undefined) request.messages = requested.messages.map(chatTurn);
  else request.prompt = requested.prompt;
  if (requested.seed !== undefined && requested.seed !== null) request.seed = requested.seed;
  if (requested.stop !== undefined) request.stop = typeof requested.stop === "string" ? [requested.stop] : requested.stop;
  // Fields that are off by default: set only when given, so a plain request stays plain.
  for (const field of OPTIONAL_FIELDS) {
    const value = requested[field];
    if (value !== undefined && value !== null) (request as unknown as Record<string, unknown>)[field] = value;
  }
  if (requested.grammar !== undefined) request.grammar = requested.grammar;
  if (requested.tools !== undefined && requested.tools !== null && requested.tools.length > 0) {
    request.tools = requested.tools;
    if (requested.toolChoice !== undefined && requested.toolChoice !== null) request.toolChoice = requested.toolChoice;
    if (requested.parallelToolCalls === false) request.parallelToolCalls = false;
  }
  return request;
}

function chatTurn({ role, content, tool_calls, tool_call_id }: ChatMessage): ChatMessage {
  const turn: ChatMessage = { role, content };
  if (tool_calls !== undefined && tool_calls.length > 0) turn.tool_calls = tool_calls.map(({ id, type, function: { name, arguments: args } }) => ({ id, type, function: { name, arguments: args } }));
  if (tool_call_id !== undefined) turn.tool_call_id = tool_call_id;
  return turn;
}
