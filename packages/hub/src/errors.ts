/**
 * What a pull can fail with. Each failure has a code (for callers that act on it: a node pulling
 * on demand turns `offline-not-cached` into "model not found") and a message that names the model
 * or the file at fault and says what to do.
 */
export type HubPullErrorCode =
  /** The id, dtype or an option is not valid (before anything is fetched). */
  | "invalid-argument"
  /** Offline (--offline, HF_HUB_OFFLINE=1) and the model is not complete in the folder. */
  | "offline-not-cached"
  /** The Hub has no such model or revision. */
  | "not-found"
  /** The Hub refused the token, or asks for one (gated or private model). */
  | "unauthorized"
  /** The repository holds no graph for the dtype asked (or, without one, several and no fp32 one). */
  | "dtype-not-found"
  /** The Hub could not be reached, or a download broke off (the partial file is kept). */
  | "network"
  /** A downloaded file's size or hash differs from what the Hub reports (the file was deleted). */
  | "integrity"
  /** The Hub answered something this client cannot use. */
  | "bad-response"
  /** Another pull is writing the same model folder. */
  | "locked"
  /** The caller's signal aborted the pull (partial files are kept). */
  | "aborted";

export class HubPullError extends Error {
  constructor(
    readonly code: HubPullErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "HubPullError";
  }
}
