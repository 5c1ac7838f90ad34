/** Test helpers: a real node on a free loopback port, a real ws client, small test handlers. */
import { header as testHeader } from "@modelnode/testing";
import { definePlugin, LEGACY_FORMAT, MessageHandler, z } from "@modelnode/core";

export { startTestNode as startNode, TestClient } from "@modelnode/testing";

/** A v2.0 header with extra header fields (e.g. license_hash). */
export function header(type: string, extra: Record<string, unknown> = {}) {
  return testHeader(type, undefined, extra);
}

const inferenceSchema = z.object({ model_id: z.string(), prompt: z.string() });

/** Stands in for inference: the kind of message auth protects (replies declared, as the tests check them). */
@MessageHandler("inference_request", {
  schema: inferenceSchema,
  replySchema: z.object({ model_id: z.string(), text: z.string(), finish_reason: z.string() }),
})
class TestInference {
  handle(msg: z.infer<typeof inferenceSchema>) {
    return { model_id: msg.model_id, text: `echo: ${msg.prompt}`, finish_reason: "stop" };
  }
}

@MessageHandler("heartbeat", {
  schema: z.object({ worker_id: z.string() }),
  replyType: "heartbeat_ack",
  replySchema: z.object({ worker_id: z.string(), status: z.string() }),
})
class TestHeartbeat {
  handle(msg: { worker_id: string }) {
    return { worker_id: msg.worker_id, status: "healthy" };
  }
}

const legacySchema = z.looseObject({ session_id: z.string(), step: z.number() });

@MessageHandler(LEGACY_FORMAT, {
  schema: legacySchema,
  replySchema: z.object({ session_id: z.string(), step: z.number(), output_tensors: z.object({ next_token_id: z.int() }) }),
})
class TestLegacy {
  handle(msg: z.infer<typeof legacySchema>) {
    return { session_id: msg.session_id, step: msg.step, output_tensors: { next_token_id: 1 } };
  }
}

export const testHandlersPlugin = () =>
  definePlugin({ name: "test-handlers", handlers: [TestInference, TestHeartbeat, TestLegacy] });

export const inference = (headerExtra: Record<string, unknown> = {}) => ({
  header: header("inference_request", headerExtra),
  model_id: "tiny",
  prompt: "hi",
});

export const authentication = (license_key: unknown) => ({ header: header("authentication"), license_key });
