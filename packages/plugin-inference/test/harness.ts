/** Inference-handler tests without a socket, on @modelnode/testing's harness (the wire is covered in test/). */
import { type HandlerKey, type Plugin } from "@modelnode/core";
import { createNode, type ModelNode } from "@modelnode/core/server";
import { invokeHandler, replyChecker, type FakeConnection, type Frame } from "@modelnode/testing";

export { fakeConnection as connection, type FakeConnection, type Frame } from "@modelnode/testing";

export async function nodeWith(plugins: Plugin[]): Promise<ModelNode> {
  return createNode({ plugins, logLevel: "silent" });
}

/** invokeHandler, with every frame held to the handler's declared reply schemas (replyChecker). */
export async function send(
  node: ModelNode,
  type: HandlerKey,
  payload: unknown,
  conn?: FakeConnection,
  onFrame?: (frame: Frame) => boolean | void,
): Promise<Frame[]> {
  const frames = await invokeHandler(node, type, payload, conn, onFrame);
  const checker = replyChecker(node);
  for (const frame of frames) checker.checkReply(type, frame);
  return frames;
}
