/**
 * Drives handlers the way core's dispatcher does (schema, then handle, then the stream of
 * replies) without a socket; the wire is covered end to end in the top-level test/ package.
 */
import { createNode, Reply, validationError, type HandlerContext, type ModelNode, type Plugin } from "@modelnode/core";

export interface FakeConnection {
  ctx: HandlerContext;
  close(): void;
}

export function connection(): FakeConnection {
  const abort = new AbortController();
  const ctx = {
    connectionId: `conn-${Math.random().toString(36).slice(2)}`,
    remoteAddress: "127.0.0.1",
    state: new Map(),
    logger: undefined as never,
    signal: abort.signal,
    protocol: "standard",
    requestClose() {},
  } satisfies HandlerContext;
  return { ctx, close: () => abort.abort(new Error("closed")) };
}

export async function nodeWith(plugins: Plugin[]): Promise<ModelNode> {
  return createNode({ plugins, logLevel: "silent" });
}

export interface Frame {
  type: string;
  payload: any;
}

/** Validates and handles one message; resolves with the frames it produces (type + payload). */
export async function send(
  node: ModelNode,
  type: string,
  payload: unknown,
  conn: FakeConnection = connection(),
  onFrame?: (frame: Frame) => boolean | void,
): Promise<Frame[]> {
  const handler = node.registry.get(type);
  if (!handler) throw new Error(`no handler for ${type}`);
  const parsed = handler.schema.safeParse(payload);
  if (!parsed.success) throw validationError(parsed.error);
  const result: any = await handler.instance.handle(parsed.data, conn.ctx);
  const toFrame = (item: object): Frame =>
    item instanceof Reply ? { type: item.type, payload: item.payload } : { type: handler.replyType, payload: item };
  if (result && typeof result[Symbol.asyncIterator] === "function") {
    const frames: Frame[] = [];
    for await (const item of result as AsyncIterable<object>) {
      const frame = toFrame(item);
      frames.push(frame);
      // Like core when the socket closes: stop consuming, which returns the iterator.
      if (onFrame?.(frame) === false) break;
    }
    return frames;
  }
  return [toFrame(result)];
}
