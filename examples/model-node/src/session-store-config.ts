/**
 * Where a gateway keeps its legacy step sessions (docs/scale-out.md, "Legacy sessions across
 * gateways"): the config file's `sessionStore`, its environment variables and flags, and the
 * option they give @modelnode/nats. "memory" (the default) is one gateway's own memory;
 * "jetstream" is a JetStream key-value bucket that several gateways share, so a session goes on
 * at another gateway after its own died.
 */
import { z } from "@modelnode/core";
import type { SessionStoreOptions } from "@modelnode/nats";

export const sessionStoreConfigSchema = z
  .strictObject({
    /** memory (default) | jetstream. */
    kind: z.enum(["memory", "jetstream"], { error: 'expected "memory" or "jetstream"' }).default("memory"),
    /** jetstream: the KV bucket (default modelnode_sessions). */
    bucket: z.string({ error: "expected a bucket name" }).regex(/^[-\w]+$/, { error: 'expected a bucket name of letters, digits, "-" and "_"' }).max(64).optional(),
    /** jetstream: copies over a NATS cluster's servers, 1 to 5 (default 1; 3 survives one server's death). */
    replicas: z.int({ error: "expected a whole number from 1 to 5" }).min(1, { error: "expected a whole number from 1 to 5" }).max(5, { error: "expected a whole number from 1 to 5" }).optional(),
    /** jetstream: a session idle this long is forgotten (default 300000, the workers' session idle time). */
    ttlMs: z.int({ error: "expected a positive number of milliseconds" }).positive({ error: "expected a positive number of milliseconds" }).optional(),
  })
  .superRefine((store, ctx) => {
    if (store.kind !== "memory") return;
    for (const key of ["bucket", "replicas", "ttlMs"] as const) {
      if (store[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: 'expected kind "jetstream" with this option' });
    }
  });

export type SessionStoreConfig = z.output<typeof sessionStoreConfigSchema>;

/** Environment variable → key, and flag → key. */
export const SESSION_STORE_ENV = [["MODELNODE_SESSION_STORE", "kind"], ["MODELNODE_SESSION_STORE_BUCKET", "bucket"], ["MODELNODE_SESSION_STORE_REPLICAS", "replicas"]] as const;
export const SESSION_STORE_FLAGS = [["session-store", "kind"], ["session-store-bucket", "bucket"], ["session-store-replicas", "replicas"]] as const;

/** The section from [origin, key, value] triples (environment or flags; replicas a number when it reads as one), origins noted. */
export function sessionStoreLayer(items: [string, string, string | undefined][], origins: Map<string, string>): Record<string, unknown> | undefined {
  const layer: Record<string, unknown> = {};
  for (const [origin, key, value] of items) {
    if (value === undefined) continue;
    layer[key] = key === "replicas" && /^\d+$/.test(value.trim()) ? Number(value) : value;
    origins.set(`sessionStore.${key}`, origin);
  }
  return Object.keys(layer).length > 0 ? layer : undefined;
}

/** What natsPipeline takes. */
export function sessionStoreOptions(store: SessionStoreConfig): SessionStoreOptions {
  if (store.kind === "memory") return { kind: "memory" };
  return { kind: "jetstream", ...(store.bucket ? { bucket: store.bucket } : {}), ...(store.replicas ? { replicas: store.replicas } : {}), ...(store.ttlMs ? { ttlMs: store.ttlMs } : {}) };
}
