/**
 * inference_cancel → inference_cancel_response: stops one of this connection's inference_requests
 * in flight, named by its header's message_id. The request then ends as usual, with
 * finish_reason "cancelled" (streamed: its chunks so far, then the inference_response).
 */
import { errors, inject, MessageHandler, type HandlerContext } from "@modelnode/core";
import type { InferenceCounters } from "./counters.js";
import { cancelRequest } from "./in-flight.js";
import { INFERENCE_COUNTERS } from "./options.js";
import { inferenceCancelResponseSchema, inferenceCancelSchema, type InferenceCancel, type InferenceCancelResponse } from "./schema.js";

// A control message: answered even when the connection's in-flight cap is reached (it ends a request).
@MessageHandler("inference_cancel", {
  schema: inferenceCancelSchema,
  replyType: "inference_cancel_response",
  replySchema: inferenceCancelResponseSchema,
  control: true,
})
export class InferenceCancelHandler {
  constructor(@inject(INFERENCE_COUNTERS) private readonly counters: InferenceCounters) {}

  /** REQUEST_NOT_FOUND when the target is unknown here, already finished, or another connection's. */
  handle(msg: InferenceCancel, ctx: HandlerContext): InferenceCancelResponse {
    if (!cancelRequest(ctx.state, msg.target_message_id)) throw errors.requestNotFound(msg.target_message_id);
    this.counters.cancels++;
    return { target_message_id: msg.target_message_id, cancelled: true };
  }
}
