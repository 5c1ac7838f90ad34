/**
 * The decisions behind the `authentication` handler and the guard: matching a license key,
 * checking a header license_hash, and the brakes on failures (per-connection count and delay,
 * per-address window). Nothing here logs or reports a key, a key hash or a license_hash.
 */
import { errors, type HandlerContext } from "@modelnode/core";
import { KeyDigests, LicenseHashes } from "./credentials.js";
import type { AuthenticationResponse } from "./messages.js";
import type { ResolvedAuthOptions } from "./options.js";
import { authStateOf, type ConnectionAuth } from "./state.js";
import { AddressFailures, failureDelayMs, pause } from "./throttle.js";

export const POLICY_VIOLATION = 1008;

export interface AuthCounters {
  successful_attempts: number;
  failed_attempts: number;
  rate_limited_attempts: number;
  closed_connections: number;
  tracked_addresses: number;
}

type Ctx = Pick<HandlerContext, "state" | "remoteAddress" | "signal" | "logger" | "requestClose">;

export class Authenticator {
  private readonly keys: KeyDigests;
  private readonly hashes: LicenseHashes;
  private readonly addresses: AddressFailures;
  private readonly counts = { successful: 0, failed: 0, rateLimited: 0, closed: 0 };

  constructor(private readonly options: ResolvedAuthOptions) {
    this.keys = new KeyDigests(options.keyHashes);
    this.hashes = new LicenseHashes(options.secret, this.keys.digests);
    this.addresses = new AddressFailures(
      options.addressFailureLimit,
      options.addressFailureWindowMs,
      options.maxTrackedAddresses,
    );
  }

  /** An `authentication` message: the connection's state becomes the result of this attempt. */
  async authenticate(licenseKey: string, ctx: Ctx): Promise<AuthenticationResponse> {
    const state = authStateOf(ctx);
    // Checked before matching, so that attempts sent in parallel cannot exceed the limit.
    if (state.failures >= this.options.maxFailedAttempts) return this.refuseSpent(state, ctx);
    const address = ctx.remoteAddress ?? "unknown";
    const retryAfter = this.addresses.retryAfter(address);
    if (retryAfter > 0) {
      this.counts.rateLimited++;
      ctx.logger.warn({ remote: address }, "authentication refused: too many failures from this address");
      throw errors.authAddressRateLimited(retryAfter);
    }
    const index = this.keys.match(licenseKey);
    if (index >= 0) {
      state.authenticated = true;
      state.failures = 0;
      this.counts.successful++;
      ctx.logger.info({ key_index: index }, "connection authenticated");
      return { authenticated: true, license_hash: this.hashes.issue(index) };
    }
    state.authenticated = false;
    this.addresses.recordFailure(address);
    await this.fail(state, ctx, "license key");
    return {
      authenticated: false,
      message: "The license key is not valid.",
      attempts_remaining: Math.max(0, this.options.maxFailedAttempts - state.failures),
    };
  }

  /** A header license_hash on a message that needs auth: returns when valid, throws otherwise. */
  async checkLicenseHash(presented: string, ctx: Ctx): Promise<void> {
    const state = authStateOf(ctx);
    if (state.failures >= this.options.maxFailedAttempts) {
      this.closeSpent(ctx);
      throw errors.authAttemptsExhausted();
    }
    if (this.hashes.verify(presented)) return;
    await this.fail(state, ctx, "header license_hash");
    throw errors.licenseHashInvalid();
  }

  counters(): AuthCounters {
    return {
      successful_attempts: this.counts.successful,
      failed_attempts: this.counts.failed,
      rate_limited_attempts: this.counts.rateLimited,
      closed_connections: this.counts.closed,
      tracked_addresses: this.addresses.size,
    };
  }

  /** Counts a failure, waits the growing delay, then asks for the close once the limit is reached. */
  private async fail(state: ConnectionAuth, ctx: Ctx, what: string): Promise<void> {
    // Counted before waiting, so that parallel attempts see it at once.
    const failures = ++state.failures;
    this.counts.failed++;
    ctx.logger.info({ failures, remote: ctx.remoteAddress, credential: what }, "authentication failed");
    await pause(failureDelayMs(failures, this.options.failureDelayMs, this.options.maxFailureDelayMs), ctx.signal);
    // Asked only now: core closes once *any* request on the connection completes, so asking
    // before the delay could close the socket before this reply goes out.
    if (failures === this.options.maxFailedAttempts) {
      this.counts.closed++;
      this.closeSpent(ctx);
    }
  }

  private refuseSpent(state: ConnectionAuth, ctx: Ctx): AuthenticationResponse {
    state.authenticated = false;
    this.closeSpent(ctx);
    return { authenticated: false, message: "Too many failed authentication attempts on this connection.", attempts_remaining: 0 };
  }

  private closeSpent(ctx: Ctx): void {
    ctx.logger.warn({ remote: ctx.remoteAddress }, "closing connection after too many failed authentication attempts");
    ctx.requestClose(POLICY_VIOLATION, "too many failed authentication attempts");
  }
}
