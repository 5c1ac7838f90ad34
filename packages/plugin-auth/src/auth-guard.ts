/**
 * The guard that refuses messages needing auth (UNAUTHENTICATED) unless the connection has
 * authenticated or the header carries a valid license_hash. Exempt: the configured types, and
 * legacy-format messages when exemptLegacy is on.
 */
import { errors, type Guard, type IncomingMessage } from "@modelnode/core";
import type { Authenticator } from "./authenticator.js";
import type { ResolvedAuthOptions } from "./options.js";
import { authStateOf } from "./state.js";

export function authGuard(authenticator: Authenticator, options: ResolvedAuthOptions): Guard {
  return async (incoming, ctx) => {
    if (isExempt(incoming, options)) return;
    if (authStateOf(ctx).authenticated) return;
    if (incoming.protocol === "http") {
      // HTTP has no connection to authenticate: each request carries its key, as API clients expect.
      const headers = incoming.http?.headers;
      // `x-api-key: <key>` is how Anthropic's API (and its SDKs) send a key; Bearer wins when both are sent.
      const key = bearerToken(headers?.authorization) ?? apiKeyHeader(headers?.["x-api-key"]);
      if (key === undefined) {
        throw errors.authorizationMissing();
      }
      const result = key.startsWith("lh1.") ? undefined : await authenticator.authenticate(key, ctx);
      if (result === undefined) {
        await authenticator.checkLicenseHash(key, ctx); // a license_hash works too
        return;
      }
      if (!result.authenticated) throw errors.authorizationInvalid();
      return;
    }
    const presented = incoming.header?.license_hash;
    // An empty license_hash is treated as absent: some clients send "" when they have none.
    if (typeof presented === "string" && presented.length > 0) {
      await authenticator.checkLicenseHash(presented, ctx);
      return;
    }
    throw incoming.protocol === "legacy" ? errors.legacyAuthenticationRequired() : errors.authenticationRequired(incoming.type);
  };
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = /^Bearer\s+(\S{1,1024})\s*$/i.exec(value ?? "");
  return match?.[1];
}

/** The key of an `x-api-key: <key>` header, or undefined. */
function apiKeyHeader(header: string | string[] | undefined): string | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  return value !== undefined && /^\S{1,1024}$/.test(value) ? value : undefined;
}

function isExempt(incoming: IncomingMessage, options: ResolvedAuthOptions): boolean {
  return incoming.protocol === "legacy" ? options.exemptLegacy : options.exemptTypes.has(incoming.type);
}
