/** A plugin exercising every shape of handler core must support, for end-to-end tests. */
import { definePlugin, LEGACY_FORMAT, MessageHandler, ProtocolError, reply, z, type HandlerContext } from "../src/index.js";

const heartbeatSchema = z.object({ worker_id: z.string() });

@MessageHandler("heartbeat", { schema: heartbeatSchema, replyType: "heartbeat_ack" })
export class TestHeartbeat {
  handle(msg: z.infer<typeof heartbeatSchema>) {
    return { worker_id: msg.worker_id, status: "healthy" };
  }
}

const echoSchema = z.object({ text: z.string(), max_tokens: z.number().int().positive().optional() });

@MessageHandler("echo", { schema: echoSchema })
export class TestEcho {
  async handle(msg: z.infer<typeof echoSchema>, ctx: HandlerContext) {
    return { text: msg.text, connection: ctx.connectionId, protocol: ctx.protocol };
  }
}

@MessageHandler("explode", { schema: z.object({}) })
export class TestExplode {
  handle(): never {
    throw new Error("secret internal detail /etc/passwd");
  }
}

@MessageHandler("refuse", { schema: z.object({}) })
export class TestRefuse {
  handle(): never {
    throw new ProtocolError("MODEL_NOT_FOUND", "no such model", { available: ["a"] });
  }
}

const countSchema = z.object({ n: z.number().int().min(0).max(1000), delay_ms: z.number().optional() });

/** Streams n chunks then a final reply; stops early (and says so) when the connection goes away. */
@MessageHandler("count", { schema: countSchema })
export class TestCount {
  static cancelled = 0;
  async *handle(msg: z.infer<typeof countSchema>, ctx: HandlerContext) {
    for (let i = 0; i < msg.n; i++) {
      if (ctx.signal.aborted) {
        TestCount.cancelled++;
        yield { done: false, finish_reason: "cancelled", sent: i };
        return;
      }
      if (msg.delay_ms) await new Promise((r) => setTimeout(r, msg.delay_ms));
      yield reply("count_chunk", { i });
    }
    yield { done: true, sent: msg.n };
  }
}

const slowSchema = z.object({ ms: z.number().int().min(0).max(60_000) });

@MessageHandler("slow", { schema: slowSchema })
export class TestSlow {
  async handle(msg: z.infer<typeof slowSchema>, ctx: HandlerContext) {
    const cancelled = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), msg.ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    return { slept: msg.ms, cancelled };
  }
}

const goodbyeSchema = z.object({ delay_ms: z.number().int().min(0).max(5000).optional() });

/** Asks for a policy close first, then (optionally later) replies: the close must follow the reply. */
@MessageHandler("goodbye", { schema: goodbyeSchema })
export class TestGoodbye {
  async handle(msg: z.infer<typeof goodbyeSchema>, ctx: HandlerContext) {
    ctx.requestClose(1008, "policy says goodbye");
    if (msg.delay_ms) await new Promise((r) => setTimeout(r, msg.delay_ms));
    return { bye: true };
  }
}

const legacySchema = z.object({ session_id: z.string(), step: z.number().int().min(0) });

@MessageHandler(LEGACY_FORMAT, { schema: legacySchema })
export class TestLegacy {
  handle(msg: z.infer<typeof legacySchema>) {
    return { session_id: msg.session_id, step: msg.step, output_tensors: { next_token_id: 7 } };
  }
}

export const ALL = [TestHeartbeat, TestEcho, TestExplode, TestRefuse, TestCount, TestSlow, TestGoodbye];

export const testPlugin = (options: { legacy?: boolean } = {}) =>
  definePlugin({ name: "test", handlers: options.legacy === false ? ALL : [...ALL, TestLegacy] });
