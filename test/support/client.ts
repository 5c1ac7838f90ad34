/**
 * A real `ws` client that queues what it receives: parsed JSON frames (or `{ raw }` for a frame
 * that is not JSON), and how the connection closed.
 */
import WebSocket, { type ClientOptions } from "ws";

export function header(type: string, id = `m-${Math.random().toString(36).slice(2)}`, extra: Record<string, unknown> = {}) {
  return { message_id: id, message_type: type, protocol_version: "2.0", timestamp: "2024-01-01T12:00:00Z", ...extra };
}

export class Client {
  readonly ws: WebSocket;
  /** Every frame received so far, in order (next() consumes from `pending`, not from here). */
  readonly received: any[] = [];
  private readonly pending: any[] = [];
  private readonly waiters: ((m: any) => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  closeCode: number | undefined;

  private constructor(url: string, options?: ClientOptions) {
    this.ws = new WebSocket(url, options);
    this.ws.on("message", (data) => {
      let msg: any;
      try {
        msg = JSON.parse(String(data));
      } catch {
        msg = { raw: String(data) };
      }
      this.received.push(msg);
      const waiter = this.waiters.shift();
      if (waiter) waiter(msg);
      else this.pending.push(msg);
    });
    this.ws.on("error", () => {}); // the close event says what happened
    this.closed = new Promise((resolve) =>
      this.ws.on("close", (code, reason) => {
        this.closeCode = code;
        resolve({ code, reason: reason.toString() });
      }),
    );
  }

  static async connect(url: string, options?: ClientOptions): Promise<Client> {
    const client = new Client(url, options);
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

  send(message: unknown, options: { binary?: boolean } = {}): void {
    const data = typeof message === "string" || Buffer.isBuffer(message) ? message : JSON.stringify(message);
    this.ws.send(data, { binary: options.binary ?? false });
  }

  next<T = any>(timeoutMs = 10_000): Promise<T> {
    return this.nextOrClose(timeoutMs).then(({ frame, close }) => {
      if (close) throw new Error(`connection closed (${close.code}) before a frame came`);
      return frame;
    });
  }

  /** The next frame, or the close if the connection ends first; fails after `timeoutMs`. */
  nextOrClose(timeoutMs = 10_000): Promise<{ frame?: any; close?: { code: number; reason: string } }> {
    if (this.pending.length > 0) return Promise.resolve({ frame: this.pending.shift() });
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
      };
      const timer = setTimeout(() => {
        settle();
        reject(new Error("no frame within timeout"));
      }, timeoutMs);
      const waiter = (frame: any) => {
        settle();
        resolve({ frame });
      };
      this.waiters.push(waiter);
      void this.closed.then((close) => {
        // Frames that arrived before the close are delivered first.
        if (this.waiters.includes(waiter)) {
          settle();
          resolve({ close });
        }
      });
    });
  }

  request<T = any>(message: unknown): Promise<T> {
    this.send(message);
    return this.next<T>();
  }

  call<T = any>(type: string, payload: Record<string, unknown> = {}, id?: string): Promise<T> {
    return this.request<T>({ header: header(type, id), ...payload });
  }

  /** Frames until (and including) the first one that is not an inference_chunk. */
  async untilFinal(timeoutMs = 20_000): Promise<{ chunks: any[]; final: any }> {
    const chunks: any[] = [];
    for (;;) {
      const frame = await this.next(timeoutMs);
      if (frame?.header?.message_type !== "inference_chunk") return { chunks, final: frame };
      chunks.push(frame);
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    await this.closed;
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
