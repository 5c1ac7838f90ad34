/**
 * Drives a registered handler the way core's dispatcher does (schema, then handle, then the
 * replies it returns or streams), without a socket: for fast unit tests of handler logic. What
 * crosses the wire (envelopes, error frames) is tested over a real socket with TestClient.
 */
import { pino } from "pino";
import { isReply, LEGACY_FORMAT, type HandlerContext, type HandlerKey, type Logger, type Protocol } from "@modelnode/core";
import { validationError } from "@modelnode/core/protocol";
import type { ModelNode } from "@modelnode/core/server";

export interface FakeConnection {
  ctx: HandlerContext;
  /** Fires the context's signal, as closing a real connection does. */
  close(): void;
}

export function fakeConnection(options: { id?: string; protocol?: Protocol; logger?: Logger } = {}): FakeConnection {
  const abort = new AbortController();
  const ctx = {
    connectionId: options.id ?? `conn-${Math.random().toString(36).slice(2)}`,
    remoteAddress: "127.0.0.1",
    state: new Map(),
    // Silent unless the test passes its own (e.g. a LogCapture's logger): handlers may log.
    logger: options.logger ?? pino({ level: "silent" }),
    signal: abort.signal,
    protocol: options.protocol ?? "standard",
    requestClose() {},
  } satisfies HandlerContext;
  return { ctx, close: () => abort.abort(new Error("closed")) };
}

/** One reply as core would send it: its message_type and payload. */
export interface Frame {
  type: string;
  payload: any;
}

/**
 * `type` is a message_type, or LEGACY_FORMAT for the legacy-format handler. Validates `payload` with the handler's schema (throwing VALIDATION_FAILED like core) and
 * handles it; resolves with the frames produced. `onFrame` returning false stops consuming a
 * stream, as core does when the socket closes (the handler's iterator is returned).
 */
export async function invokeHandler(
  node: ModelNode,
  type: HandlerKey,
  payload: unknown,
  conn: FakeConnection = fakeConnection(),
  onFrame?: (frame: Frame) => boolean | void,
): Promise<Frame[]> {
  const handler = type === LEGACY_FORMAT ? node.registry.legacy : node.registry.get(type);
  if (!handler) throw new Error(`no handler registered for ${type === LEGACY_FORMAT ? "the legacy format" : `"${type}"`}`);
  const parsed = handler.schema.safeParse(payload);
  if (!parsed.success) throw validationError(parsed.error);
  const result: any = await handler.instance.handle(parsed.data, conn.ctx);
  const toFrame = (item: object): Frame =>
    isReply(item) ? { type: item.type, payload: item.payload } : { type: handler.replyType, payload: item };
  if (result === undefined || result === null) return [];
  if (typeof result[Symbol.asyncIterator] === "function") {
    const frames: Frame[] = [];
    for await (const item of result as AsyncIterable<object>) {
      const frame = toFrame(item);
      frames.push(frame);
      if (onFrame?.(frame) === false) break;
    }
    return frames;
  }
  return [toFrame(result)];
}
