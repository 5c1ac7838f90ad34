/**
 * The Ollama API's routes on the node's port: GET /api/version, GET /api/tags, GET /api/ps,
 * POST /api/show, POST /api/generate and POST /api/chat, and a fallback for every other path
 * under /api/ (NOT_FOUND, 404, in Ollama's shape: the model management endpoints — pull, push,
 * create, copy, delete — and embeddings are not served). Every error is `{"error": "..."}`.
 * Generation requests are core's GenerateRequest (buildGenerateRequest, the other doors' one
 * mapping) with the plugin's defaults and the request's ctx.signal.
 */
import { keepAliveOf } from "./keep-alive.js";
import {
  buildGenerateRequest,
  defineRoute,
  errors,
  modelNotFound,
  NODE_INFO,
  PIPELINE,
  type HandlerContext,
  type HttpMethod,
  type HttpResponse,
  type ModelInfo,
  type ModelPipeline,
  type RequestedGeneration,
  type ToolChoice,
  type ToolSpec,
} from "@modelnode/core";
import { toOllamaError } from "./errors.js";
import { run, type Deps, type Endpoint } from "./generate.js";
import { loadOrUnload } from "./load-request.js";
import { findModel, modelEntry, runningEntry, showOf } from "./models.js";
import { OLLAMA_COUNTERS, type ResolvedOllamaOptions } from "./options.js";
import { samplingOf } from "./sampling.js";
import { toolParsing } from "./tools.js";
import { chatRequestSchema, generateRequestSchema, logprobsOf, requestedGrammar, showRequestSchema, type ChatBody, type GenerateBody, type ChatTurn } from "./schema.js";

const METHODS: HttpMethod[] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/** What a body asks to continue: a prompt, or a chat (with the tools it may call). */
type Input = { prompt: string } | { messages: ChatTurn[]; tools?: ToolSpec[] | null; toolChoice?: ToolChoice | null };

function served(pipeline: ModelPipeline, name: string): ModelInfo {
  const info = findModel(pipeline, name);
  if (!info) throw modelNotFound(name, pipeline);
  return info;
}

/**
 * The model's info, for a request that will use it: a model the pipeline has but does not list yet
 * (one it fetches on first request, docs/models.md "Pulling on first request") is loaded first,
 * which brings it, so that its facts (chat template) are known. Not for an unload request.
 */
async function servedForUse(pipeline: ModelPipeline, name: string, unloading: boolean): Promise<ModelInfo> {
  const listed = findModel(pipeline, name);
  if (listed || unloading || !pipeline.loadModel || !pipeline.hasModel(name)) return listed ?? served(pipeline, name);
  await pipeline.loadModel(name);
  return served(pipeline, name);
}

/** A load or unload request (no prompt, no messages) with keep_alive 0. */
const unloads = (keepAlive: number | string | null | undefined) => keepAliveOf(keepAlive).keepAliveMs === 0;

/**
 * /api/generate's input: the prompt as it is with `raw: true` or for a model without a chat
 * template (Ollama's base-model template, `{{ .Prompt }}`); otherwise one user turn (after the
 * `system` turn, if any) rendered with the model's own template. `system` on a model without a
 * template is rendered with the pipeline's fallback chat template.
 */
function inputOf(body: GenerateBody, info: ModelInfo): { prompt: string } | { messages: ChatTurn[] } {
  const prompt = body.prompt ?? "";
  const system = body.system ?? "";
  if (body.raw === true || (!info.hasChatTemplate && system === "")) return { prompt };
  return { messages: [...(system ? [{ role: "system" as const, content: system }] : []), { role: "user", content: prompt }] };
}

/** The routes, with this plugin instance's limits, defaults and version. */
export function ollamaRoutes(options: ResolvedOllamaOptions & { version: string }) {
  const deps = { pipeline: PIPELINE, counters: OLLAMA_COUNTERS, info: NODE_INFO };
  const formatError = toOllamaError;

  /** Runs a body's generation: core's one mapping with this plugin's defaults, then the NDJSON or whole answer. */
  function generation(endpoint: Endpoint, body: GenerateBody | ChatBody, input: Input, modelId: string, ctx: HandlerContext, d: Deps, startedAt: bigint) {
    const grammar = requestedGrammar(body.format);
    const requested: RequestedGeneration = {
      modelId,
      ...samplingOf(body.options, options),
      ...input,
      logprobs: logprobsOf(body),
      ...(grammar ? { grammar: grammar.grammar } : {}),
    };
    const request = { ...buildGenerateRequest(requested, options.defaults, ctx.signal), ...keepAliveOf(body.keep_alive) };
    const tools = "messages" in input ? toolParsing({ model: body.model, tools: input.tools, tool_choice: input.toolChoice }, modelId, d.pipeline) : undefined;
    return run({ endpoint, model: body.model, request, grammar, stream: body.stream !== false, startedAt, ...(tools ? { tools } : {}) }, ctx, d);
  }

  const version = defineRoute({ method: "GET", path: "/api/version", formatError, handle: (): HttpResponse => ({ json: { version: options.version } }) });

  const tags = defineRoute({
    method: "GET",
    path: "/api/tags",
    inject: { pipeline: PIPELINE, info: NODE_INFO },
    formatError,
    handle: (_req, _ctx, { pipeline, info }): HttpResponse => ({ json: { models: pipeline.listModels().map((m) => modelEntry(m, info.startedAt)) } }),
  });

  const ps = defineRoute({
    method: "GET",
    path: "/api/ps",
    inject: { pipeline: PIPELINE, info: NODE_INFO },
    formatError,
    handle: (_req, _ctx, { pipeline, info }): HttpResponse => ({ json: { models: pipeline.listModels().filter((m) => m.state === undefined || m.state === "loaded").map((m) => runningEntry(m, info.startedAt)) } }),
  });

  const show = defineRoute({
    method: "POST",
    path: "/api/show",
    schema: showRequestSchema,
    maxBodyBytes: options.maxBodyBytes,
    inject: { pipeline: PIPELINE, info: NODE_INFO },
    formatError,
    handle: (req, _ctx, { pipeline, info }): HttpResponse => {
      const name = req.body.model ?? req.body.name ?? "";
      return { json: showOf(served(pipeline, name), info.startedAt, options.defaults) };
    },
  });

  const generate = defineRoute({
    method: "POST",
    path: "/api/generate",
    schema: generateRequestSchema(options),
    maxBodyBytes: options.maxBodyBytes,
    inject: deps,
    formatError,
    handle: async (req, ctx, d) => {
      const startedAt = process.hrtime.bigint();
      const body: GenerateBody = req.body;
      const empty = body.prompt === undefined || body.prompt === null || body.prompt === "";
      const info = await servedForUse(d.pipeline, body.model, empty && unloads(body.keep_alive));
      if (empty) return loadOrUnload("generate", body.model, info.id, body.keep_alive, d.pipeline);
      return generation("generate", body, inputOf(body, info), info.id, ctx, d, startedAt);
    },
  });

  const chat = defineRoute({
    method: "POST",
    path: "/api/chat",
    schema: chatRequestSchema(options),
    maxBodyBytes: options.maxBodyBytes,
    inject: deps,
    formatError,
    handle: async (req, ctx, d) => {
      const startedAt = process.hrtime.bigint();
      const body: ChatBody = req.body;
      const messages = body.messages ?? [];
      const empty = messages.length === 0;
      const info = await servedForUse(d.pipeline, body.model, empty && unloads(body.keep_alive));
      if (empty) return loadOrUnload("chat", body.model, info.id, body.keep_alive, d.pipeline);
      return generation("chat", body, { messages, tools: body.tools, toolChoice: body.tool_choice }, info.id, ctx, d, startedAt);
    },
  });

  // Every other path under /api/, any method: Ollama's 404, naming what was asked.
  const unknown = METHODS.map((method) =>
    defineRoute({
      method,
      path: "/api/*",
      name: "ollama unknown path",
      formatError,
      handle: (req): HttpResponse => {
        throw errors.notFound(`${req.method} /api/${req.params["*"].slice(0, 128)} is not served by this node (see docs/plugin-ollama.md)`);
      },
    }),
  );

  return [version, tags, ps, show, generate, chat, ...unknown];
}
