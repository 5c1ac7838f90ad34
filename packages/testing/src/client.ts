/**
 * A real `ws` client that queues what it receives, so a test can await frames in order:
 * parsed JSON frames (or `{ raw }` for a frame that is not JSON), and how the connection closed.
 * With `checkReplies`, every frame is held to its handler's declared reply schema
 * (reply-checker.ts): a frame that is not as declared makes the next()/request() that would
 * return it reject, naming the problem, so the test reading it fails.
 */
import WebSocket, { type ClientOptions } from "ws";
import type { HandlerRegistry, ModelNode } from "@modelnode/core/server";
import { header } from "./header.js";
import { replyChecker, type ReplyChecker } from "./reply-checker.js";

export interface TestClientOptions extends ClientOptions {
  /** Check every received frame against the declarations of this node's handlers. */
  checkReplies?: ModelNode | HandlerRegistry | ReplyChecker;
}

/** A received frame, with why it is not as declared when checked and found wanting. */
interface Delivery {
  frame: any;
  problem?: Error;
}

export interface CloseEvent {
  code: number;
  reason: string;
}

export class TestClient {
  readonly ws: WebSocket;
  /** Every frame received so far, in order (next() consumes from its own queue, not from here). */
  readonly received: any[] = [];
  readonly closed: Promise<CloseEvent>;
  /** With checkReplies: what was wrong with the frames received so far, in order. */
  readonly violations: string[] = [];
  private readonly pending: Delivery[] = [];
  private readonly waiters: ((d: Delivery) => void)[] = [];
  private readonly checker: ReplyChecker | undefined;
  /** message_id → message_type of the standard requests sent, to know what a reply answers. */
  private readonly sentTypes = new Map<string, string>();

  private constructor(url: string, options: TestClientOptions = {}) {
    const { checkReplies, ...wsOptions } = options;
    this.checker = checkReplies === undefined ? undefined : "check" in checkReplies ? checkReplies : replyChecker(checkReplies);
    this.ws = new WebSocket(url, wsOptions);
    this.ws.on("message", (data) => {
      let msg: any;
      try {
        msg = JSON.parse(String(data));
      } catch {
        msg = { raw: String(data) };
      }
      this.received.push(msg);
      const delivery: Delivery = { frame: msg, problem: this.problemOf(msg) };
      const waiter = this.waiters.shift();
      if (waiter) waiter(delivery);
      else this.pending.push(delivery);
    });
    this.ws.on("error", () => {}); // the close event says what happened
    this.closed = new Promise((resolve) => this.ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Connects; rejects with `HTTP <status>` when the upgrade is refused. */
  static async connect(url: string, options?: TestClientOptions): Promise<TestClient> {
    const client = new TestClient(url, options);
    await new Promise<void>((resolve, reject) => {
      client.ws.once("open", () => resolve());
      client.ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      client.ws.once("error", reject);
    });
    return client;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends an object as JSON, or a string/Buffer as it is (a text frame unless `binary`). */
  send(message: unknown, options: { binary?: boolean } = {}): void {
    const data = typeof message === "string" || Buffer.isBuffer(message) ? message : JSON.stringify(message);
    if (this.checker) this.remember(data);
    this.ws.send(data, { binary: options.binary ?? false });
  }

  /** The next frame not yet read. */
  next<T = any>(timeoutMs = 10_000): Promise<T> {
    if (this.pending.length > 0) return settle(this.pending.shift()!);
    return new Promise((resolve, reject) => {
      const waiter = (d: Delivery) => {
        clearTimeout(timer);
        settle(d).then(resolve, reject);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next frame, or the close if the connection ends first. */
  async nextOrClose(timeoutMs = 10_000): Promise<{ frame?: any; close?: CloseEvent }> {
    if (this.pending.length > 0) return { frame: await settle(this.pending.shift()!) };
    return Promise.race([this.next(timeoutMs).then((frame) => ({ frame })), this.closed.then((close) => ({ close }))]);
  }

  /** Sends a message and resolves with the next frame. */
  request<T = any>(message: unknown): Promise<T> {
    this.send(message);
    return this.next<T>();
  }

  /** A standard-protocol request: a header of `type` plus the payload; resolves with the next frame. */
  call<T = any>(type: string, payload: Record<string, unknown> = {}, id?: string): Promise<T> {
    return this.request<T>({ header: header(type, id), ...payload });
  }

  /** Frames until (and including) the first whose message_type is not `chunkType` (a stream's final reply). */
  async untilFinal(chunkType = "inference_chunk", timeoutMs = 20_000): Promise<{ chunks: any[]; final: any }> {
    const chunks: any[] = [];
    for (;;) {
      const frame = await this.next(timeoutMs);
      if (frame?.header?.message_type !== chunkType) return { chunks, final: frame };
      chunks.push(frame);
    }
  }

  private problemOf(frame: unknown): Error | undefined {
    if (!this.checker) return undefined;
    const request = isObject(frame) && isObject(frame.header) ? this.sentTypes.get(frame.header.correlation_id as string) : undefined;
    const found = this.checker.problems(frame, request);
    if (found.length === 0) return undefined;
    this.violations.push(...found);
    return new Error(`a frame the node sent is not as declared:\n- ${found.join("\n- ")}`);
  }

  /** Notes the message_type of a standard request about to be sent (raw frames included, when JSON). */
  private remember(data: string | Buffer): void {
    let message: unknown;
    try {
      message = JSON.parse(String(data));
    } catch {
      return;
    }
    if (!isObject(message) || !isObject(message.header)) return;
    const { message_id: id, message_type: type } = message.header;
    if (typeof id === "string" && typeof type === "string") this.sentTypes.set(id, type);
  }

  /** Closes (if open) and waits for the close. */
  async close(): Promise<CloseEvent> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    return this.closed;
  }
}

/** Resolves with the HTTP status an upgrade was refused with, or "open" when it was accepted. */
export function upgradeOutcome(url: string, options?: ClientOptions): Promise<number | "open"> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once("open", () => {
      ws.terminate();
      resolve("open");
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once("error", (err) => {
      const status = /Unexpected server response: (\d+)/.exec(err.message);
      if (status) resolve(Number(status[1]));
      else reject(err);
    });
  });
}

function settle(delivery: Delivery): Promise<any> {
  return delivery.problem ? Promise.reject(delivery.problem) : Promise.resolve(delivery.frame);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
