/** A worker's presence: its heartbeat every period, at once when a gateway asks (discover), and a goodbye when it closes. */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { encode, type Goodbye, type Heartbeat, type Subjects } from "./protocol.js";

export class Announcer {
  private timer?: NodeJS.Timeout;
  private discover?: Subscription;

  constructor(
    private readonly connection: NatsConnection,
    private readonly subjects: Subjects,
    private readonly heartbeat: () => Heartbeat,
    private readonly periodMs: number,
  ) {}

  /** Answers gateways' discover requests. */
  listen(): void {
    this.discover = this.connection.subscribe(this.subjects.discover, { callback: () => this.announce() });
  }

  /** Heartbeats from now on, the first at once. */
  start(): void {
    this.timer = setInterval(() => this.announce(), this.periodMs);
    this.timer.unref();
    this.announce();
  }

  announce(): void {
    if (!this.connection.isClosed()) this.connection.publish(this.subjects.heartbeat, encode(this.heartbeat()));
  }

  /** Tells the gateways this worker is leaving (a clean close; a killed one goes quiet instead). */
  goodbye(): void {
    if (!this.connection.isClosed()) this.connection.publish(this.subjects.goodbye, encode({ worker: this.heartbeat().worker } satisfies Goodbye));
  }

  stop(): void {
    clearInterval(this.timer);
    this.discover?.unsubscribe();
  }
}
