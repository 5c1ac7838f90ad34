/** The example node (real ONNX pipeline) on a free loopback port, and ways to wait for it to be idle. */
import { PIPELINE } from "@modelnode/core";
import type { PipelineStats } from "@modelnode/core/pipeline";
import type { ModelNode } from "@modelnode/core/server";
import assert from "node:assert/strict";
import { eventually, TestClient } from "@modelnode/testing";

export { eventually, sleep } from "@modelnode/testing";
import { createModelNode, type ModelNodeConfigInput, type ModelNodeRuntime } from "@modelnode/example-model-node";
import { TINY_MODEL_DIR } from "./paths.js";

export interface RunningNode {
  node: ModelNode;
  url: string;
  port: number;
}

/** Serves the bundled model as "tiny-gpt2" unless `config.models` says otherwise; logs silent unless a logger is given. */
export async function startNode(config: ModelNodeConfigInput = {}, runtime: ModelNodeRuntime = {}): Promise<RunningNode> {
  const node = await createModelNode({ logLevel: "silent", models: { "tiny-gpt2": TINY_MODEL_DIR }, ...config }, runtime);
  const { port } = await node.listen(0, "127.0.0.1");
  return { node, url: `${config.tls ? "wss" : "ws"}://127.0.0.1:${port}`, port };
}

/** The pipeline's own figures (the contract's camelCase names; /stats shows them in snake_case). */
export function pipelineStats(node: ModelNode): PipelineStats {
  return node.container.resolve(PIPELINE).stats();
}

/** The figures that must come back to zero once every client has gone and every request ended. */
export function busyFigures(node: ModelNode) {
  const stats = node.getStats();
  const pipeline = stats.pipeline as Record<string, number>;
  return {
    active_connections: stats.active_connections,
    in_flight: stats.in_flight,
    generations: pipeline.generations_in_flight,
    queued: pipeline.queued_generations,
    batch_rows: pipeline.batch_size,
    inference_in_flight: (stats.inference as { in_flight: number }).in_flight,
  };
}

export function isIdle(node: ModelNode): boolean {
  return Object.values(busyFigures(node)).every((n) => n === 0);
}

export async function eventuallyIdle(node: ModelNode, timeoutMs = 10_000): Promise<void> {
  await eventually(() => isIdle(node), () => `the node to be idle: ${JSON.stringify(busyFigures(node))}`, timeoutMs);
}


/** The reply to one inference_request (model tiny-gpt2 unless the payload names another), over a fresh WebSocket connection: what the HTTP dialects are compared with. */
export async function inferenceOverWebSocket(url: string, payload: Record<string, unknown>) {
  const client = await TestClient.connect(url);
  try {
    const reply = await client.call("inference_request", { model_id: "tiny-gpt2", ...payload });
    assert.equal(reply.header.message_type, "inference_response", JSON.stringify(reply));
    return reply as unknown as { text: string; finish_reason: string; usage: { prompt_tokens: number; completion_tokens: number } };
  } finally {
    await client.close();
  }
}
