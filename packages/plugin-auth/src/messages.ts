/**
 * The `authentication` request and its `authentication_response`, as zod schemas (the handler
 * declares both: core validates the request, the AsyncAPI document describes the reply, and the
 * compiler and the tests hold what the authenticator answers to it) and the types that follow.
 */
import { z } from "@modelnode/core";

/** Longest license_key accepted (characters); it is only hashed, never stored. */
export const MAX_LICENSE_KEY_LENGTH = 1024;

export const authenticationSchema = z.object({
  license_key: z.string().min(1).max(MAX_LICENSE_KEY_LENGTH),
});
export type AuthenticationRequest = z.infer<typeof authenticationSchema>;

/** authentication_response beside its header: a license_hash on success; otherwise why not and the attempts left. */
export const authenticationResponseSchema = z.union([
  z.object({
    authenticated: z.literal(true),
    license_hash: z.string().min(1).describe("Send it as header.license_hash to authenticate a message on any connection."),
  }),
  z.object({
    authenticated: z.literal(false),
    message: z.string().describe("For humans."),
    attempts_remaining: z.int().min(0).describe("Failed attempts this connection has left before the node closes it (1008)."),
  }),
]);
export type AuthenticationResponse = z.infer<typeof authenticationResponseSchema>;
