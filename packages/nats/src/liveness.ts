/**
 * How a gateway learns that a worker is gone, sooner than a stream's idleMs: a closing worker
 * says goodbye; a worker that stops heartbeating (SIGKILL, a hang, a cut cable) is silent for
 * `missedHeartbeats` of its periods, and is pinged once. A worker that is gone (goodbye, or a
 * ping with no responders: its connection closed, so NATS dropped its subscriptions) is taken
 * for dead, and the generations it ran are checked at once (they resume elsewhere). A worker
 * that answers the ping (its event loop was only busy) keeps its generations; one whose ping
 * times out is left to its streams' own idleMs check (busy or hung cannot be told apart).
 */
import type { GatewayLink } from "./gateway-link.js";
import type { MinimalLogger } from "./logger.js";
import type { Membership } from "./membership.js";
import { decode, type Goodbye } from "./protocol.js";
import type { WorkerPicker } from "./routing.js";

export class Liveness {
  private timer?: NodeJS.Timeout;
  /** Silent workers being pinged now (one ping at a time each). */
  private readonly checking = new Set<string>();

  constructor(
    private readonly link: GatewayLink,
    private readonly membership: Membership,
    private readonly picker: WorkerPicker,
    private readonly log: MinimalLogger,
    /** A worker is gone or suspected: the generations it runs check it now. */
    private readonly onSuspect: (worker: string) => void,
  ) {}

  /** Listens for goodbyes and looks for silent workers every `sweepMs`. */
  start(sweepMs: number): void {
    this.link.subscribe(this.link.subjects.goodbye, (msg) => {
      try {
        const { worker } = decode<Goodbye>(msg.data);
        if (typeof worker === "string") this.gone(worker, "goodbye");
      } catch {}
    });
    this.timer = setInterval(() => this.sweep(), sweepMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sweep(): void {
    // With our own connection down every worker looks silent: that says nothing about them.
    if (!this.link.reachable) return;
    for (const worker of this.membership.silent()) {
      if (this.checking.has(worker)) continue;
      this.checking.add(worker);
      void this.link
        .probe(worker)
        .then((answer) => {
          // Only "no responders" is sure. A ping that times out may be a worker whose event loop
          // is busy (a long prefill): its streams' own idleMs check decides, as before.
          if (answer === "gone") this.gone(worker, "missed heartbeats, no responders to a ping");
        })
        .finally(() => this.checking.delete(worker));
    }
  }

  private gone(worker: string, why: string): void {
    if (why === "goodbye") this.log.info({ worker }, "worker said goodbye");
    else this.log.warn({ worker, why }, "worker gone");
    // A goodbye is not an error: no avoid, so that a worker restarting under its name is picked at once.
    if (why === "goodbye") this.membership.forget(worker);
    else this.picker.lost(worker);
    this.onSuspect(worker);
  }
}
