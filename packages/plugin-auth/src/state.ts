/** What the plugin keeps per connection, in ctx.state under AUTH_STATE. */
import type { HandlerContext } from "@modelnode/core";

export const AUTH_STATE = Symbol.for("modelnode.auth");

export interface ConnectionAuth {
  /** Set by a successful `authentication`; cleared by a failed one (the latest attempt counts). */
  authenticated: boolean;
  /** Failed attempts on this connection since its last success. */
  failures: number;
}

export function authStateOf(ctx: Pick<HandlerContext, "state">): ConnectionAuth {
  let state = ctx.state.get(AUTH_STATE) as ConnectionAuth | undefined;
  if (!state) {
    state = { authenticated: false, failures: 0 };
    ctx.state.set(AUTH_STATE, state);
  }
  return state;
}

/** For other plugins' handlers and guards: has this connection authenticated? */
export function isAuthenticated(ctx: Pick<HandlerContext, "state">): boolean {
  return (ctx.state.get(AUTH_STATE) as ConnectionAuth | undefined)?.authenticated === true;
}
