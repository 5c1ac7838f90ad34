/** The client's events: plain DOM events on an EventTarget, the same in browsers and Node. */
import type { ModelNodeError } from "./errors.js";
import type { ConnectionState } from "./types.js";

export interface StateEventInit {
  /** Consecutive failed attempts so far (reconnecting: the number of the retry that is scheduled, from 1). */
  attempt?: number;
  /** reconnecting: the delay before that retry. */
  delayMs?: number;
  /** reconnecting and closed: what ended the previous connection or attempt. */
  error?: ModelNodeError;
}

/**
 * Dispatched twice on each change of state: once as "statechange" and once under the new
 * state's name ("connecting", "open", "reconnecting", "closed").
 */
export class StateEvent extends Event {
  readonly state: ConnectionState;
  readonly attempt?: number;
  readonly delayMs?: number;
  readonly error?: ModelNodeError;

  constructor(type: string, state: ConnectionState, init: StateEventInit = {}) {
    super(type);
    this.state = state;
    if (init.attempt !== undefined) this.attempt = init.attempt;
    if (init.delayMs !== undefined) this.delayMs = init.delayMs;
    if (init.error !== undefined) this.error = init.error;
  }
}

/**
 * "error": something that belongs to no call: re-authentication after a reconnect failed, an
 * error frame the node could not correlate (correlation_id null), or a frame that is not JSON.
 */
export class ClientErrorEvent extends Event {
  readonly error: ModelNodeError;
  constructor(error: ModelNodeError) {
    super("error");
    this.error = error;
  }
}

export interface ClientEventMap {
  statechange: StateEvent;
  connecting: StateEvent;
  open: StateEvent;
  reconnecting: StateEvent;
  closed: StateEvent;
  error: ClientErrorEvent;
}
