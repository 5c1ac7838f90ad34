/** A real ws client that queues incoming frames so a test can await them in order. */
import WebSocket from "ws";

export function header(type: string, id = `m-${Math.random().toString(36).slice(2)}`) {
  return { message_id: id, message_type: type, protocol_version: "2.0", timestamp: "2024-01-01T12:00:00Z" };
}

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
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new TestClient(ws);
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
