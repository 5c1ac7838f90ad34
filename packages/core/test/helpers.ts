/** Test helpers: a real node on a free loopback port and a real ws client that queues frames. */
import WebSocket from "ws";
import { createNode, type ModelNode, type NodeOptions } from "../src/server.js";

export async function startNode(options: NodeOptions): Promise<{ node: ModelNode; url: string }> {
  const node = await createNode({ logLevel: "silent", ...options });
  const { port } = await node.listen(0, "127.0.0.1");
  return { node, url: `ws://127.0.0.1:${port}` };
}

export function header(type: string, id = `m-${Math.random().toString(36).slice(2)}`) {
  return { message_id: id, message_type: type, protocol_version: "2.0", timestamp: "2024-01-01T12:00:00Z" };
}

export class TestClient {
  readonly ws: WebSocket;
  private readonly queue: unknown[] = [];
  private readonly waiters: ((m: unknown) => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on("message", (data) => {
      const msg = JSON.parse(String(data));
      const waiter = this.waiters.shift();
      if (waiter) waiter(msg);
      else this.queue.push(msg);
    });
    this.closed = new Promise((resolve) =>
      this.ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  static async connect(url: string): Promise<TestClient> {
    const client = new TestClient(url);
    await new Promise<void>((resolve, reject) => {
      client.ws.once("open", () => resolve());
      client.ws.once("error", reject);
    });
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  next<T = any>(timeoutMs = 5000): Promise<T> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued as T);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no frame within timeout")), timeoutMs);
      this.waiters.push((m) => {
        clearTimeout(timer);
        resolve(m as T);
      });
    });
  }

  async request<T = any>(message: unknown): Promise<T> {
    this.send(message);
    return this.next<T>();
  }

  close(): void {
    this.ws.close();
  }
}
