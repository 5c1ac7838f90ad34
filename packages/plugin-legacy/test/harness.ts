/**
 * Drives the legacy handler the way core's dispatcher does (schema, then handle) without a
 * socket: wire-level behaviour is covered end to end in the top-level test/ package.
 */
import { createNode, validationError, type HandlerContext, type ModelNode, type Plugin } from "@modelnode/core";

export interface FakeConnection {
  ctx: HandlerContext;
  close(): void;
}

export function connection(id = `conn-${Math.random().toString(36).slice(2)}`): FakeConnection {
  const abort = new AbortController();
  const ctx = {
    connectionId: id,
    remoteAddress: "127.0.0.1",
    state: new Map(),
    logger: undefined as never,
    signal: abort.signal,
    protocol: "legacy",
    requestClose() {},
  } satisfies HandlerContext;
  return { ctx, close: () => abort.abort(new Error("closed")) };
}

export async function nodeWith(plugins: Plugin[]): Promise<ModelNode> {
  return createNode({ plugins, logLevel: "silent" });
}

/** Validates and handles one message; resolves with the reply or rejects with the coded error. */
export async function send(node: ModelNode, raw: unknown, conn: FakeConnection): Promise<any> {
  const handler = node.registry.get("legacy");
  if (!handler) throw new Error("no legacy handler registered");
  const parsed = handler.schema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error);
  return handler.instance.handle(parsed.data, conn.ctx);
}

export function msg(session_id: string, step: number, input_ids: unknown, extra: Record<string, unknown> = {}) {
  return { session_id, step, input_tensors: { input_ids }, ...extra };
}
