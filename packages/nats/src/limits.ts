/**
 * The numeric limits of a gateway (natsPipeline) and a worker (startWorker), and the gateway's
 * session store option, validated when they start: a clear error naming the field instead of a
 * timer firing every 0 ms or never (or a bucket JetStream refuses later). The other
 * options (servers, names, loggers) are checked where they are used.
 */
import { parsePluginOptions, z } from "@modelnode/core";

const positive = z.number().positive().finite();
const whole = z.number().int().positive();

const gatewayLimits = z.looseObject({
  discoverMs: positive.optional(),
  maxAttempts: whole.optional(),
  requestTimeoutMs: positive.optional(),
  idleMs: positive.optional(),
  stepIdleMs: positive.optional(),
  avoidMs: z.number().min(0).finite().optional(),
  window: whole.optional(),
  memberTtlMs: positive.optional(),
  // 1e9 turns the missed-heartbeat check off in effect (only goodbyes and idleMs then).
  missedHeartbeats: positive.optional(),
  livenessCheckMs: positive.optional(),
  reconnectWaitMs: z.number().min(0).finite().optional(),
  recoveryMs: z.number().min(0).finite().optional(),
  sessionStore: z
    .discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("memory") }),
      z.strictObject({
        kind: z.literal("jetstream"),
        // JetStream's rule for a KV bucket's name.
        bucket: z.string().regex(/^[-\w]+$/, { error: 'expected a bucket name of letters, digits, "-" and "_"' }).optional(),
        // JetStream's limit: 1 to 5 copies.
        replicas: z.number().int().min(1).max(5).optional(),
        ttlMs: positive.optional(),
      }),
    ], { error: 'expected { kind: "memory" } or { kind: "jetstream", bucket?, replicas?, ttlMs? }' })
    .optional(),
});

const workerLimits = z.looseObject({
  maxInFlight: whole.optional(),
  heartbeatMs: positive.optional(),
  ackTimeoutMs: positive.optional(),
  reconnectWaitMs: z.number().min(0).finite().optional(),
});

export function checkGatewayLimits(options: object): void {
  parsePluginOptions("natsPipeline", gatewayLimits, options);
}

export function checkWorkerLimits(options: object): void {
  parsePluginOptions("startWorker", workerLimits, options);
}
