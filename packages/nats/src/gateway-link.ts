/**
 * The gateway's NATS connection: request/reply with coded errors, liveness pings, guarded
 * publishes, and whether the server is reachable now.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { errors } from "@modelnode/core/pipeline";
import { decode, encode, subjects, type Subjects } from "./protocol.js";
import { connectNats } from "./connect-options.js";
import type { GatewayOptions } from "./gateway-options.js";

export class GatewayLink {
  readonly subjects: Subjects;
  /** False between a disconnect and the reconnect that follows it. */
  private connected = true;
  /** Reconnects so far: what was in flight across one may be lost. */
  epoch = 0;
  /** Waits for the next reconnect (reconnected()). */
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly connection: NatsConnection,
    prefix: string,
    private readonly requestTimeoutMs: number,
  ) {
    this.subjects = subjects(prefix);
  }

  static async open(options: GatewayOptions): Promise<GatewayLink> {
    const nc = await connectNats({ ...options, name: `modelnode-gateway-${options.name}`, connectTimeoutMs: options.connectTimeoutMs ?? options.requestTimeoutMs });
    return new GatewayLink(nc, options.prefix, options.requestTimeoutMs);
  }

  /** Follows disconnects and reconnects; `onReconnect` runs after each reconnect. */
  watchStatus(onReconnect: () => void): void {
    void (async () => {
      for await (const status of this.connection.status()) {
        if (status.type === "disconnect") this.connected = false;
        if (status.type === "reconnect") {
          this.connected = true;
          this.epoch++;
          for (const wake of this.waiters) wake();
          onReconnect();
        }
      }
    })().catch(() => {});
  }

  get reachable(): boolean {
    return !this.connection.isClosed() && this.connected;
  }

  /** Resolves true once connected (at once when it is), false after `ms` without a reconnect or when closed. */
  reconnected(ms: number): Promise<boolean> {
    if (this.reachable) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(ok);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(this.reachable), ms);
      this.waiters.add(wake);
    });
  }

  get closed(): boolean {
    return this.connection.isClosed();
  }

  subscribe(subject: string, onMessage: (msg: Msg) => void): Subscription {
    return this.connection.subscribe(subject, { callback: (_e, msg) => onMessage(msg) });
  }

  /** A fresh inbox subscribed to `onMessage`. */
  subscribeInbox(onMessage: (msg: Msg) => void): { inbox: string; subscription: Subscription } {
    const inbox = createInbox();
    return { inbox, subscription: this.subscribe(inbox, onMessage) };
  }

  /** Publishes unless the connection is closed (then there is no one to tell). */
  publish(subject: string, body?: unknown): void {
    if (!this.connection.isClosed()) this.connection.publish(subject, body === undefined ? undefined : encode(body));
  }

  flush(): Promise<void> {
    return this.connection.flush();
  }

  /** A request/reply as NATS answers it: the reply message, or NATS's own error. */
  ask(subject: string, body: unknown, timeout: number): Promise<Msg> {
    return this.connection.request(subject, encode(body), { timeout });
  }

  /** A request/reply with coded errors: no responders → BUSY (no worker serves it now), time-out or no NATS → BUSY. */
  async request<T>(subject: string, body: unknown, modelId?: string, timeout = this.requestTimeoutMs): Promise<T> {
    let msg: Msg;
    try {
      msg = await this.ask(subject, body, timeout);
    } catch (error) {
      throw natsError(error, modelId);
    }
    return decode<T>(msg.data);
  }

  /**
   * Whether a worker answers its ping within the request time-out; given a stream (or a step), also whether
   * the worker still has it (a worker that gave up on it, e.g. no acknowledgement for its
   * ackTimeoutMs while NATS was away, says no: the gateway then resumes it elsewhere).
   */
  async alive(worker: string, what?: { id: string; attempt: number } | { session: string; step: number }): Promise<boolean> {
    try {
      const msg = await this.connection.request(this.subjects.worker(worker, "ping"), what ? encode(what) : undefined, { timeout: this.requestTimeoutMs });
      return what === undefined || decode<{ known?: boolean }>(msg.data).known !== false;
    } catch {
      return false;
    }
  }

  /**
   * A ping whose answer is sure: "alive" (it answered), "gone" (no responders: its connection
   * closed, so NATS dropped its subscriptions) or "unknown" (no answer in time: busy, hung or
   * cut off; or our own connection is down).
   */
  async probe(worker: string): Promise<"alive" | "gone" | "unknown"> {
    try {
      await this.connection.request(this.subjects.worker(worker, "ping"), undefined, { timeout: this.requestTimeoutMs });
      return "alive";
    } catch (error) {
      const name = (error as Error)?.name ?? "";
      if (this.reachable && (name === "NoRespondersError" || /no responders/i.test(String((error as Error)?.message)))) return "gone";
      return "unknown";
    }
  }

  /** Flushes what is pending, then drains; at once when the server is unreachable (nothing to flush to). */
  async close(): Promise<void> {
    const nc = this.connection;
    if (nc.isClosed()) return;
    if (!this.connected) return void (await nc.close());
    await nc.flush().catch(() => {});
    await nc.drain().catch(() => nc.close());
  }
}

export function unreachable(): Error {
  return errors.busy("The model service is unreachable right now; try again later.", { reason: "nats_unavailable" });
}

/** A NATS failure as a coded error. */
export function natsError(error: unknown, modelId?: string): Error {
  const name = (error as Error)?.name ?? "";
  const text = String((error as Error)?.message ?? error);
  if (name === "NoRespondersError" || /no responders/i.test(text)) {
    return errors.busy(`No model worker serves ${modelId === undefined ? "this" : `"${modelId.slice(0, 100)}"`} right now; try again later.`, { reason: "no_workers" });
  }
  if (name === "TimeoutError" || /timeout/i.test(text)) return errors.busy("The model workers did not answer in time; try again later.", { reason: "timeout" });
  return unreachable();
}
