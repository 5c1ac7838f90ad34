/** Test helpers: a real node on a free loopback port, a real ws client, small test handlers. */
import WebSocket from "ws";
import {
  createNode,
  definePlugin,
  LEGACY_MESSAGE_TYPE,
  MessageHandler,
  z,
  type ModelNode,
  type NodeOptions,
} from "@modelnode/core";

export async function startNode(options: NodeOptions): Promise<{ node: ModelNode; url: string }> {
  const node = await createNode({ logLevel: "silent", ...options });
  const { port } = await node.listen(0, "127.0.0.1");
  return { node, url: `ws://127.0.0.1:${port}` };
}

export function header(type: string, extra: Record<string, unknown> = {}) {
  return {
    message_id: `m-${Math.random().toString(36).slice(2)}`,
    message_type: type,
    protocol_version: "2.0",
    timestamp: "2024-01-01T12:00:00Z",
    ...extra,
  };
}

/** A ws client that queues incoming frames so a test can await them in order. */
export class TestClient {
  private readonly queue: unknown[] = [];
  private readonly waiters: ((m: unknown) => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data));
      const waiter = this.waiters.shift();
      if (waiter) waiter(msg);
      else this.queue.push(msg);
    });
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static async connect(url: string): Promise<TestClient> {
    const ws = new WebSocket(url);
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return client;
  }

  next<T = any>(timeoutMs = 5000): Promise<T> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift() as T);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no frame within timeout")), timeoutMs);
      this.waiters.push((m) => {
        clearTimeout(timer);
        resolve(m as T);
      });
    });
  }

  /** Frames received and not yet read. */
  received<T = any>(): T[] {
    return this.queue.splice(0) as T[];
  }

  request<T = any>(message: unknown): Promise<T> {
    this.ws.send(JSON.stringify(message));
    return this.next<T>();
  }

  close(): void {
    this.ws.close();
  }
}

const inferenceSchema = z.object({ model_id: z.string(), prompt: z.string() });

/** Stands in for inference: the kind of message auth protects. */
@MessageHandler("inference_request", { schema: inferenceSchema })
class TestInference {
  handle(msg: z.infer<typeof inferenceSchema>) {
    return { model_id: msg.model_id, text: `echo: ${msg.prompt}`, finish_reason: "stop" };
  }
}

@MessageHandler("heartbeat", { schema: z.object({ worker_id: z.string() }), replyType: "heartbeat_ack" })
class TestHeartbeat {
  handle(msg: { worker_id: string }) {
    return { worker_id: msg.worker_id, status: "healthy" };
  }
}

const legacySchema = z.looseObject({ session_id: z.string(), step: z.number() });

@MessageHandler(LEGACY_MESSAGE_TYPE, { schema: legacySchema })
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
