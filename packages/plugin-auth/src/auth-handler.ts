/** `authentication` → `authentication_response` { authenticated, license_hash on success }. */
import { inject, MessageHandler, z, type HandlerContext } from "@modelnode/core";
import type { AuthenticationResponse, Authenticator } from "./authenticator.js";
import { AUTHENTICATOR } from "./tokens.js";

/** Longest license_key accepted (characters); it is only hashed, never stored. */
export const MAX_LICENSE_KEY_LENGTH = 1024;

export const authenticationSchema = z.object({
  license_key: z.string().min(1).max(MAX_LICENSE_KEY_LENGTH),
});
export type AuthenticationRequest = z.infer<typeof authenticationSchema>;

@MessageHandler("authentication", { schema: authenticationSchema, replyType: "authentication_response" })
export class AuthenticationHandler {
  constructor(@inject(AUTHENTICATOR) private readonly authenticator: Authenticator) {}

  handle(msg: AuthenticationRequest, ctx: HandlerContext): Promise<AuthenticationResponse> {
    return this.authenticator.authenticate(msg.license_key, ctx);
  }
}
