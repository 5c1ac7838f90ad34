/** `authentication` → `authentication_response` { authenticated, license_hash on success }. */
import { inject, MessageHandler, type HandlerContext } from "@modelnode/core";
import type { Authenticator } from "./authenticator.js";
import { authenticationResponseSchema, authenticationSchema, type AuthenticationRequest, type AuthenticationResponse } from "./messages.js";
import { AUTHENTICATOR } from "./tokens.js";

@MessageHandler("authentication", { schema: authenticationSchema, replyType: "authentication_response", replySchema: authenticationResponseSchema })
export class AuthenticationHandler {
  constructor(@inject(AUTHENTICATOR) private readonly authenticator: Authenticator) {}

  handle(msg: AuthenticationRequest, ctx: HandlerContext): Promise<AuthenticationResponse> {
    return this.authenticator.authenticate(msg.license_key, ctx);
  }
}
