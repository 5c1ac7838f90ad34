/**
 * Shared by the example-node end-to-end tests: the real example node (real ONNX pipeline) on a
 * free loopback port, and a real `ws` client that queues the frames it receives.
 */
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import type { ModelNode } from "@modelnode/core";
import { createModelNode, type ModelNodeConfigInput } from "@modelnode/example-model-node";

/** The repository root (this file runs from test/dist/). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const TINY_MODEL_DIR = join(REPO_ROOT, "models", "tiny-gpt2");

/** The example node serving the bundled model as "tiny-gpt2" only (unless `config.models` says otherwise). */
export async function startModelNode(config: ModelNodeConfigInput = {}): Promise<{ node: ModelNode; url: string }> {
  const node = await createModelNode({ logLevel: "silent", models: { "tiny-gpt2": TINY_MODEL_DIR }, ...config });
  const { port } = await node.listen(0, "127.0.0.1");
  return { node, url: `ws://127.0.0.1:${port}` };
}

export function header(type: string, id = `m-${Math.random().toString(36).slice(2)}`, extra: Record<string, unknown> = {}) {
  return { message_id: id, message_type: type, protocol_version: "2.0", timestamp: "2024-01-01T12:00:00Z", ...extra };
}

export class Client {
  readonly ws: WebSocket;
  private readonly queue: any[] = [];
  private readonly waiters: ((m: any) => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on("message", (data) => {
      const msg = JSON.parse(String(data));
      const waiter = this.waiters.shift();
      if (waiter) waiter(msg);
      else this.queue.push(msg);
    });
    this.closed = new Promise((resolve) => this.ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async connect(url: string): Promise<Client> {
    const client = new Client(url);
    await new Promise<void>((resolve, reject) => {
      client.ws.once("open", () => resolve());
      client.ws.once("error", reject);
    });
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  next<T = any>(timeoutMs = 10_000): Promise<T> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no frame within timeout")), timeoutMs);
      this.waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  }

  request<T = any>(message: unknown): Promise<T> {
    this.send(message);
    return this.next<T>();
  }

  /** A standard-protocol request: header of `type` plus payload; resolves with the first reply. */
  call<T = any>(type: string, payload: Record<string, unknown> = {}, id?: string): Promise<T> {
    return this.request<T>({ header: header(type, id), ...payload });
  }

  async close(): Promise<void> {
    this.ws.close();
    await this.closed;
  }
}

/** Waits until `check()` holds (polling), failing with `what` after `timeoutMs`. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function pipelineStats(node: ModelNode): Record<string, number> {
  return node.getStats().pipeline as Record<string, number>;
}
