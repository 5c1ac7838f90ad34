/**
 * Exponential backoff with full jitter (the AWS architecture blog's "full jitter"): the delay
 * before retry n (0, 1, 2 …) is uniformly random in [0, min(maxDelayMs, initialDelayMs × 2^n)).
 * Clients that lost the same node spread out instead of reconnecting in waves.
 */
export interface BackoffPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
}

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * Math.max(0, cap));
}
