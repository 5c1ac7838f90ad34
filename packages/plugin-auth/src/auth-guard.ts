/**
 * The guard that refuses messages needing auth (UNAUTHENTICATED) unless the connection has
 * authenticated or the header carries a valid license_hash. Exempt: the configured types, and
 * legacy-format messages when exemptLegacy is on.
 */
import { ErrorCode, ProtocolError, type Guard, type IncomingMessage } from "@modelnode/core";
import type { Authenticator } from "./authenticator.js";
import type { ResolvedAuthOptions } from "./options.js";
import { authStateOf } from "./state.js";

export function authGuard(authenticator: Authenticator, options: ResolvedAuthOptions): Guard {
  return async (incoming, ctx) => {
    if (isExempt(incoming, options)) return;
    if (authStateOf(ctx).authenticated) return;
    const presented = incoming.header?.license_hash;
    // An empty license_hash is treated as absent: some clients send "" when they have none.
    if (typeof presented === "string" && presented.length > 0) {
      await authenticator.checkLicenseHash(presented, ctx);
      return;
    }
    throw new ProtocolError(
      ErrorCode.UNAUTHENTICATED,
      incoming.protocol === "legacy"
        ? "Legacy messages need an authenticated connection: send a standard authentication message with your license_key first."
        : `Message type "${incoming.type}" needs authentication: send an authentication message with your license_key, or put a license_hash in the header.`,
    );
  };
}

function isExempt(incoming: IncomingMessage, options: ResolvedAuthOptions): boolean {
  return incoming.protocol === "legacy" ? options.exemptLegacy : options.exemptTypes.has(incoming.type);
}
