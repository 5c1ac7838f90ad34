/** Inference-handler tests without a socket, on @modelnode/testing's harness (the wire is covered in test/). */
import { type Plugin } from "@modelnode/core";
import { createNode, type ModelNode } from "@modelnode/core/server";

export { fakeConnection as connection, invokeHandler as send, type FakeConnection, type Frame } from "@modelnode/testing";

export async function nodeWith(plugins: Plugin[]): Promise<ModelNode> {
  return createNode({ plugins, logLevel: "silent" });
}
