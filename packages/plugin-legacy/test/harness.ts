/** Legacy-handler tests without a socket, on @modelnode/testing's harness (the wire is covered in test/). */
import { LEGACY_FORMAT, type Plugin } from "@modelnode/core";
import { createNode, type ModelNode } from "@modelnode/core/server";
import { fakeConnection, invokeHandler, replyChecker, type FakeConnection } from "@modelnode/testing";

export type { FakeConnection };

export function connection(id?: string): FakeConnection {
  return fakeConnection({ id, protocol: "legacy" });
}

export async function nodeWith(plugins: Plugin[]): Promise<ModelNode> {
  return createNode({ plugins, logLevel: "silent" });
}

/**
 * Validates and handles one legacy message; resolves with the reply (held to the handler's
 * declared replySchema) or rejects with the coded error.
 */
export async function send(node: ModelNode, raw: unknown, conn: FakeConnection): Promise<any> {
  const [frame] = await invokeHandler(node, LEGACY_FORMAT, raw, conn);
  if (frame) replyChecker(node).checkReply(LEGACY_FORMAT, frame);
  return frame?.payload;
}

export function msg(session_id: string, step: number, input_ids: unknown, extra: Record<string, unknown> = {}) {
  return { session_id, step, input_tensors: { input_ids }, ...extra };
}
