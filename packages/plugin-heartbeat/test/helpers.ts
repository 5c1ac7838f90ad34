/** Test helpers: a real node on a free loopback port, a real ws client, a fake pipeline. */
import WebSocket from "ws";
import {
  createNode,
  definePlugin,
  PIPELINE,
  type ModelNode,
  type ModelPipeline,
  type NodeOptions,
  type PipelineStats,
} from "@modelnode/core";

export async function startNode(options: NodeOptions): Promise<{ node: ModelNode; url: string; port: number }> {
  const node = await createNode({ logLevel: "silent", ...options });
  const { port } = await node.listen(0, "127.0.0.1");
  return { node, url: `ws://127.0.0.1:${port}`, port };
}

export function header(type: string, id = `m-${Math.random().toString(36).slice(2)}`) {
  return { message_id: id, message_type: type, protocol_version: "2.0", timestamp: "2024-01-01T12:00:00Z" };
}

/** A ws client that queues incoming frames so a test can await them in order. */
export class TestClient {
  private readonly queue: unknown[] = [];
  private readonly waiters: ((m: unknown) => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data));
      const waiter = this.waiters.shift();
      if (waiter) waiter(msg);
      else this.queue.push(msg);
    });
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

  request<T = any>(message: unknown): Promise<T> {
    this.ws.send(JSON.stringify(message));
    return this.next<T>();
  }

  close(): void {
    this.ws.close();
  }
}

/** A stand-in for a real pipeline: fixed models, stats the test can change. */
export class FakePipeline implements ModelPipeline {
  figures: PipelineStats = { activeSessions: 0, generationsInFlight: 0, cacheBytes: 0 };
  failStats = false;

  constructor(private readonly modelIds: string[]) {}

  listModels() {
    return this.modelIds.map((id) => ({ id, contextLength: 64, vocabSize: 100 }));
  }
  hasModel(id: string) {
    return this.modelIds.includes(id);
  }
  stats(): PipelineStats {
    if (this.failStats) throw new Error("stats unavailable");
    return this.figures;
  }
  async generate(): Promise<never> {
    throw new Error("not used");
  }
  async *stream(): AsyncIterable<never> {
    throw new Error("not used");
  }
  async step(): Promise<never> {
    throw new Error("not used");
  }
  closeSession() {
    return false;
  }
  async close() {}
}

/** How an application binds its pipeline: a plugin that registers PIPELINE. */
export function pipelinePlugin(pipeline: ModelPipeline) {
  return definePlugin({
    name: "fake-pipeline",
    register(container) {
      container.register(PIPELINE, { useValue: pipeline });
    },
  });
}
