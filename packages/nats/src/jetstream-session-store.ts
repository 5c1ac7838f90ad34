/**
 * Legacy step sessions in a JetStream key-value bucket, shared by every gateway on the same NATS:
 * a gateway that dies loses none of them, and the next step of a session can come to any gateway.
 *
 * One key per session (session-store.ts, sessionKey), holding the record as JSON; the bucket keeps
 * one revision per key (history 1) and its max age is the sessions' idle expiry: every step
 * rewrites the key, so a session expires `ttlMs` after its last step. Writes are compare-and-set
 * on the key's revision (KV create/update).
 */
import { jetstream, JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { SessionConflict, sessionKey, type SessionRecord, type SessionStore, type StoredSession } from "./session-store.js";

export interface JetStreamSessionStoreOptions {
  kind: "jetstream";
  /** The KV bucket's name (letters, digits, "-", "_"). Default "modelnode_sessions". */
  bucket?: string;
  /** Copies of the bucket over a NATS cluster's servers (1 to 5; 3 survives one server's death). Default 1. */
  replicas?: number;
  /** A session idle this long is forgotten (the bucket's max age). Default 300 000 ms, the workers' session idle time. */
  ttlMs?: number;
}

export const JETSTREAM_STORE_DEFAULTS = { bucket: "modelnode_sessions", replicas: 1, ttlMs: 300_000 } as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class JetStreamSessionStore implements SessionStore {
  readonly kind = "jetstream";
  readonly shared = true;

  private constructor(
    private readonly kv: KV,
    readonly ttlMs: number,
  ) {}

  /**
   * Opens the bucket (creating it when no gateway has yet, with these replicas and max age; an
   * existing bucket keeps its own). Fails with an error that names the cause: JetStream off on
   * the server, too few servers for the replicas, a bad bucket name.
   */
  static async open(nc: NatsConnection, options: JetStreamSessionStoreOptions, openTimeoutMs = OPEN_TIMEOUT_MS): Promise<JetStreamSessionStore> {
    const { bucket, replicas, ttlMs } = { ...JETSTREAM_STORE_DEFAULTS, ...options };
    const deadline = Date.now() + openTimeoutMs;
    let kv: KV | undefined;
    for (let attempt = 1; !kv; attempt++) {
      try {
        kv = await new Kvm(jetstream(nc)).create(bucket, { history: 1, replicas, ttl: ttlMs });
      } catch (error) {
        // Gateways started together create the replicated bucket at once, while the cluster may
        // still be electing its leaders: such a try times out or is refused for now; try again.
        if (isTransient(error) && Date.now() + attempt * 250 < deadline) {
          await new Promise((resolve) => setTimeout(resolve, attempt * 250));
          continue;
        }
        throw openError(error, bucket, replicas);
      }
    }
    return new JetStreamSessionStore(kv, ttlMs);
  }

  async get(sessionId: string): Promise<StoredSession | undefined> {
    const entry = await this.kv.get(sessionKey(sessionId));
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return undefined;
    return { record: JSON.parse(decoder.decode(entry.value)) as SessionRecord, revision: entry.revision };
  }

  async put(sessionId: string, record: SessionRecord, revision: number): Promise<number> {
    const key = sessionKey(sessionId);
    const data = encoder.encode(JSON.stringify(record));
    try {
      return revision === 0 ? await this.kv.create(key, data) : await this.kv.update(key, data, revision);
    } catch (error) {
      if (isWrongRevision(error)) throw new SessionConflict(sessionId);
      throw error;
    }
  }

  async delete(sessionId: string): Promise<void> {
    await this.kv.delete(sessionKey(sessionId));
  }

  async close(): Promise<void> {
    // The bucket stays: the other gateways use it (the connection is the gateway's to close).
  }
}

function isWrongRevision(error: unknown): boolean {
  if (error instanceof JetStreamApiError) {
    return error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown;
  }
  return /wrong last sequence/i.test((error as Error)?.message ?? "");
}

/** How long a gateway keeps trying to open the bucket while NATS answers "not now" (a cluster starting). */
const OPEN_TIMEOUT_MS = 30_000;

/** A try that may succeed later: a request timed out, or JetStream is busy electing its leaders. */
function isTransient(error: unknown): boolean {
  const message = (error as Error).message ?? String(error);
  return /timeout|timed out|temporarily unavailable/i.test(message) || (error as Error).name === "TimeoutError";
}

/** The startup error naming the cause: JetStream off on the server, or what the bucket's creation said. */
function openError(error: unknown, bucket: string, replicas: number): Error {
  const message = (error as Error).message ?? String(error);
  if (/jetstream (is )?not enabled|no responders|503/i.test(message) || (error as Error).name === "JetStreamNotEnabled") {
    return new Error(`sessionStore "jetstream": JetStream is not enabled on the NATS server (start nats-server with -js, or use sessionStore "memory"): ${message}`);
  }
  return new Error(`sessionStore "jetstream": cannot open the key-value bucket "${bucket}" (replicas ${replicas}): ${message}`);
}
