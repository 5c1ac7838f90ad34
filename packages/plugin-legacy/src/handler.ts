/**
 * Runs one legacy step: checks the session's state (cap, order, concurrency), calls
 * `pipeline.step`, and shapes the reply. Errors are thrown as ProtocolError/PipelineError and
 * core sends them in the legacy error shape `{session_id, step, error: {code, message}}`.
 */
import {
  inject,
  LEGACY_MESSAGE_TYPE,
  MessageHandler,
  PIPELINE,
  PipelineError,
  ProtocolError,
  type HandlerContext,
  type MessageHandlerClass,
  type ModelPipeline,
  type ZodType,
} from "@modelnode/core";
import { LEGACY_OPTIONS, LEGACY_SESSIONS, type ResolvedLegacyOptions } from "./options.js";
import type { LegacyMessage, LegacyStepReply } from "./schema.js";
import type { SessionRecord, SessionTable } from "./sessions.js";

/** ctx.state key: this connection already frees its sessions on close. */
const CLEANUP_HOOKED = Symbol("modelnode.legacy.cleanup-hooked");

/** The handler class is made per plugin instance because its schema carries that instance's limits. */
export function createLegacyHandler(schema: ZodType): MessageHandlerClass {
  @MessageHandler(LEGACY_MESSAGE_TYPE, { schema })
  class LegacyStepHandler {
    private readonly modelId: string;

    constructor(
      @inject(PIPELINE) private readonly pipeline: ModelPipeline,
      @inject(LEGACY_OPTIONS) private readonly options: ResolvedLegacyOptions,
      @inject(LEGACY_SESSIONS) private readonly sessions: SessionTable,
    ) {
      this.modelId = defaultModel(pipeline, options.modelId);
    }

    async handle(msg: LegacyMessage, ctx: HandlerContext): Promise<LegacyStepReply> {
      const modelId = msg.model_id ?? this.modelId;
      const key = this.options.sessionScope === "global" ? msg.session_id : `${ctx.connectionId}/${msg.session_id}`;
      const record = msg.step === 0 ? this.begin(key, modelId, msg, ctx) : this.resume(key, msg);
      record.busy = true;
      try {
        const { input_ids, attention_mask } = msg.input_tensors;
        const result = await this.pipeline.step({
          sessionId: key,
          modelId: record.modelId,
          step: msg.step,
          inputIds: input_ids,
          attentionMask: attention_mask,
          signal: ctx.signal,
        });
        record.lastStep = msg.step;
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
      } catch (error) {
        // A failed step 0 leaves no usable session; a pipeline that lost the session says so.
        if (msg.step === 0 || (error instanceof PipelineError && error.code === "SESSION_NOT_FOUND")) {
          this.sessions.delete(key);
        }
        throw error;
      } finally {
        record.busy = false;
        this.sessions.touch(record);
        // Connection scope: the connection closed while this step ran, so nobody can continue it.
        if (this.options.sessionScope === "connection" && ctx.signal.aborted) this.sessions.delete(key);
      }
    }

    private begin(key: string, modelId: string, msg: LegacyMessage, ctx: HandlerContext): SessionRecord {
      if (!this.pipeline.hasModel(modelId)) throw modelNotFound(modelId, this.pipeline);
      const existing = this.sessions.get(key);
      if (existing?.busy) throw busy(msg.session_id);
      if (!existing && !this.sessions.hasRoom()) {
        throw new ProtocolError(
          "TOO_MANY_SESSIONS",
          "The node holds as many sessions as it may; try again later.",
          { max_sessions: this.sessions.stats().max_sessions },
        );
      }
      if (this.options.sessionScope === "connection" && !ctx.state.has(CLEANUP_HOOKED)) {
        ctx.state.set(CLEANUP_HOOKED, true);
        const connectionId = ctx.connectionId;
        ctx.signal.addEventListener("abort", () => this.sessions.deleteConnection(connectionId), { once: true });
      }
      return this.sessions.start(key, modelId, ctx.connectionId);
    }

    private resume(key: string, msg: LegacyMessage): SessionRecord {
      this.sessions.sweep();
      const record = this.sessions.get(key);
      if (!record) {
        throw new ProtocolError(
          "SESSION_NOT_FOUND",
          `No session "${clip(msg.session_id)}": start it with step 0 (sessions expire when idle).`,
        );
      }
      if (record.busy) throw busy(msg.session_id);
      if (msg.model_id !== undefined && msg.model_id !== record.modelId) {
        throw new ProtocolError("VALIDATION_FAILED", "model_id differs from the model this session was started on.", {
          issues: [{ path: "model_id", code: "custom", message: `this session runs on "${clip(record.modelId)}"` }],
        });
      }
      const expected = record.lastStep + 1;
      if (msg.step !== expected) {
        throw new ProtocolError("STEP_OUT_OF_ORDER", `Expected step ${expected}, got step ${msg.step}.`, {
          expected_step: expected,
        });
      }
      return record;
    }
  }
  return LegacyStepHandler;
}

function defaultModel(pipeline: ModelPipeline, configured: string | undefined): string {
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

function modelNotFound(modelId: string, pipeline: ModelPipeline): ProtocolError {
  const available = pipeline.listModels().map((m) => m.id);
  return new ProtocolError("MODEL_NOT_FOUND", `Model "${clip(modelId)}" is not served by this node.`, {
    model_id: clip(modelId),
    available: available.slice(0, 100),
  });
}

function busy(sessionId: string): ProtocolError {
  return new ProtocolError("BUSY", `Session "${clip(sessionId)}" has a step running; send the next step after its reply.`);
}

function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
