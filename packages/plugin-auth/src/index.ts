// @modelnode/plugin-auth: `authentication` → `authentication_response`, and a guard that
// refuses unauthenticated messages (UNAUTHENTICATED) when auth is required.
export { authPlugin } from "./plugin.js";
export { hashLicenseKey, isKeyHash, KEY_HASH_PREFIX, LICENSE_HASH_PREFIX } from "./credentials.js";
export { AUTH_STATE, authStateOf, isAuthenticated, type ConnectionAuth } from "./state.js";
export {
  AUTH_DEFAULTS,
  authOptionsSchema,
  MIN_SECRET_BYTES,
  resolveAuthOptions,
  type AuthOptions,
  type ResolvedAuthOptions,
} from "./options.js";
export { AuthenticationHandler } from "./auth-handler.js";
export {
  authenticationResponseSchema,
  authenticationSchema,
  MAX_LICENSE_KEY_LENGTH,
  type AuthenticationRequest,
  type AuthenticationResponse,
} from "./messages.js";
export { Authenticator, POLICY_VIOLATION, type AuthCounters } from "./authenticator.js";
export { AUTHENTICATOR } from "./tokens.js";
