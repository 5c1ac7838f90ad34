/**
 * Runs one legacy step through `pipeline.step` and shapes the reply. Session state (step order,
 * KV cache, idle expiry, the session cap) is the pipeline's; this handler decides whose session
 * a `session_id` names (the scope) and frees connection-scoped sessions when their connection
 * closes. Errors are thrown as ProtocolError/PipelineError and core sends them in the legacy
 * error shape `{session_id, step, error: {code, message}}`.
 */
import {
  errors,
  inject,
  isCodedError,
  LEGACY_FORMAT,
  MessageHandler,
  modelNotFound,
  PIPELINE,
  ProtocolError,
  type HandlerContext,
  type ModelPipeline,
} from "@modelnode/core";
import { LEGACY_COUNTERS, LEGACY_OPTIONS, type LegacyCounters, type ResolvedLegacyOptions } from "./options.js";
import { legacyMessageSchema, legacyStepReplySchema, type LegacyMessage, type LegacyStepReply } from "./schema.js";

/** ctx.state key: the pipeline keys of sessions this connection started (connection scope). */
const CONNECTION_SESSIONS = Symbol("modelnode.legacy.connection-sessions");

/** The schema comes from this node's LEGACY_OPTIONS, so each plugin instance has its own limits. */
@MessageHandler(LEGACY_FORMAT, { schema: (resolve) => legacyMessageSchema(resolve(LEGACY_OPTIONS)), replySchema: legacyStepReplySchema })
export class LegacyStepHandler {
  /** The default model; undefined while a pipeline whose models arrive later (dynamicModels) serves none. */
  private readonly modelId: string | undefined;

  constructor(
    @inject(PIPELINE) private readonly pipeline: ModelPipeline,
    @inject(LEGACY_OPTIONS) private readonly options: ResolvedLegacyOptions,
    @inject(LEGACY_COUNTERS) private readonly counters: LegacyCounters,
  ) {
    this.modelId = defaultModel(pipeline, options.modelId);
  }

  async handle(msg: LegacyMessage, ctx: HandlerContext): Promise<LegacyStepReply> {
    const modelId = msg.model_id ?? this.modelId ?? this.pipeline.listModels()[0]?.id;
    if (modelId === undefined) throw errors.busy("No model is served yet; try again later.", { reason: "no_models" });
    if (!this.pipeline.hasModel(modelId)) throw modelNotFound(modelId, this.pipeline);
    const key = this.sessionKey(msg.session_id, msg.step, ctx);
    this.counters.steps++;
    const { input_ids, attention_mask } = msg.input_tensors;
    let result;
    try {
      result = await this.pipeline.step({
        sessionId: key,
        modelId,
        step: msg.step,
        inputIds: input_ids,
        attentionMask: typeof input_ids === "string" ? undefined : attention_mask,
        signal: ctx.signal,
      });
    } catch (error) {
      throw key === msg.session_id ? error : inClientTerms(error, key, msg.session_id);
    }
    if (msg.step === 0) this.counters.sessionsStarted++;
    return {
      session_id: msg.session_id,
      step: msg.step,
      output_tensors: {
        next_token_id: result.nextTokenId,
        next_token: result.nextTokenText,
        sequence_length: result.sequenceLength,
        input_ids: result.inputIds,
        is_eos: result.isEos,
      },
    };
  }

  /**
   * The pipeline's key for a session: the client's session_id (global scope), or the
   * connection id plus session_id (connection scope), remembered so that closing the
   * connection frees it.
   */
  private sessionKey(sessionId: string, step: number, ctx: HandlerContext): string {
    if (this.options.sessionScope === "global") return sessionId;
    const key = `${ctx.connectionId}/${sessionId}`;
    if (step === 0) {
      const owned = this.connectionSessions(ctx);
      owned.delete(key); // a restart counts as the newest
      owned.add(key);
      if (owned.size > this.options.maxSessionsPerConnection) {
        const oldest = owned.values().next().value as string;
        owned.delete(oldest);
        this.pipeline.closeSession(oldest);
      }
    }
    return key;
  }

  /** Keys of the sessions this connection started (in start order), freed when it closes. */
  private connectionSessions(ctx: HandlerContext): Set<string> {
    let owned = ctx.state.get(CONNECTION_SESSIONS) as Set<string> | undefined;
    if (!owned) {
      const keys = (owned = new Set<string>());
      ctx.state.set(CONNECTION_SESSIONS, keys);
      const free = () => {
        for (const key of keys) this.pipeline.closeSession(key);
        keys.clear();
      };
      if (ctx.signal.aborted) queueMicrotask(free);
      else ctx.signal.addEventListener("abort", free, { once: true });
    }
    return owned;
  }
}

/** Connection scope: the pipeline's messages name the internal key; the client knows its session_id. */
function inClientTerms(error: unknown, key: string, sessionId: string): unknown {
  if (!isCodedError(error)) return error;
  const swap = (text: string) => text.split(key).join(sessionId);
  const details = error.details as Record<string, unknown> | undefined;
  const clientDetails =
    details && typeof details === "object"
      ? Object.fromEntries(Object.entries(details).map(([k, v]) => [k, typeof v === "string" ? swap(v) : v]))
      : details;
  return new ProtocolError(error.code, swap(error.message), clientDetails);
}

/**
 * The configured model, checked now; else the first served. A pipeline whose models arrive later
 * (dynamicModels: NATS workers announcing them) is checked per step instead, and with no model
 * configured the first one served at each step is the default.
 */
function defaultModel(pipeline: ModelPipeline, configured: string | undefined): string | undefined {
  if (pipeline.dynamicModels) return configured;
  const available = pipeline.listModels().map((m) => m.id);
  if (configured !== undefined) {
    if (!pipeline.hasModel(configured)) {
      throw new Error(`legacyPlugin: model "${configured}" is not served by the pipeline (it serves: ${available.join(", ") || "nothing"})`);
    }
    return configured;
  }
  if (available.length === 0) throw new Error("legacyPlugin: the pipeline serves no model");
  return available[0];
}
