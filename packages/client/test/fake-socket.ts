/** A scripted stand-in for the browser WebSocket: the test opens, answers and drops it. */
import type { WebSocketConstructor, WebSocketLike } from "../src/index.js";

export class FakeSocket implements WebSocketLike {
  static made: FakeSocket[] = [];
  readyState = 0;
  binaryType = "blob";
  onopen: ((event: any) => void) | null = null;
  onmessage: ((event: any) => void) | null = null;
  onclose: ((event: any) => void) | null = null;
  onerror: ((event: any) => void) | null = null;
  readonly sent: any[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  terminated = false;

  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(JSON.parse(data));
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    if (this.readyState === 3) return;
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? "" }));
  }

  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }

  // ---- driven by the test

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The node went away: an error (when refused) then a close event. */
  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    if (code === 1006) this.onerror?.({ message: "connect ECONNREFUSED" });
    this.onclose?.({ code, reason });
  }

  /** The last frame sent of that message_type. */
  last(type: string): any {
    const found = this.sent.filter((f) => f.header?.message_type === type);
    return found[found.length - 1];
  }

  /** Answers a standard request. */
  reply(request: any, type: string, payload: Record<string, unknown> = {}): void {
    this.receive({
      header: { message_id: `r-${Math.random()}`, message_type: type, protocol_version: "2.0", timestamp: new Date().toISOString(), correlation_id: request.header.message_id },
      ...payload,
    });
  }

  static reset(): void {
    FakeSocket.made = [];
  }

  static latest(): FakeSocket {
    return FakeSocket.made[FakeSocket.made.length - 1];
  }
}

export const FakeWebSocket = FakeSocket as unknown as WebSocketConstructor;

export const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
