/**
 * /readyz waits for what plugins say they wait for (host.addReadinessCheck), and for a pipeline
 * whose notReady() gives a reason (pipelinePlugin adds that check): 503 naming the reason, 200
 * once none gives one.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { definePlugin, type ModelPipeline, type PipelineStats } from "../src/index.js";
import { createNode, pipelinePlugin } from "../src/server.js";

/** Only what pipelinePlugin touches (stats, close) and notReady; nothing here generates. */
class LatePipeline {
  readonly dynamicModels = true;
  waiting: string | undefined = "waiting for a worker to announce a model";
  notReady(): string | undefined {
    return this.waiting;
  }
  listModels() {
    return [];
  }
  stats(): PipelineStats {
    return { activeSessions: 0, generationsInFlight: 0, cacheBytes: 0, queuedGenerations: 0 };
  }
  async close(): Promise<void> {}
}

async function startTestNode(options: Parameters<typeof createNode>[0]) {
  const node = await createNode({ logLevel: "silent", ...options });
  const { port } = await node.listen(0, "127.0.0.1");
  return { node, port };
}

const readyz = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return [res.status, await res.json()];
};

test("a pipeline's notReady() reason makes /readyz 503 until it has none; /livez stays 200", async () => {
  const pipeline = new LatePipeline();
  const { node, port } = await startTestNode({ plugins: [pipelinePlugin(pipeline as unknown as ModelPipeline)] });
  try {
    assert.deepEqual(await readyz(port), [503, { status: "waiting", reason: "waiting for a worker to announce a model" }]);
    assert.equal((await fetch(`http://127.0.0.1:${port}/livez`)).status, 200);
    pipeline.waiting = undefined;
    assert.deepEqual(await readyz(port), [200, { status: "ready" }]);
  } finally {
    await node.close();
  }
});

test("a plugin's readiness check: the first reason wins; a check that throws is a reason, not a crash", async () => {
  let reason: string | undefined = "warming up";
  let broken = false;
  const plugin = definePlugin({
    name: "waits",
    register(_container, host) {
      host.addReadinessCheck(() => reason);
      host.addReadinessCheck(() => {
        if (broken) throw new Error("boom");
        return undefined;
      });
    },
  });
  const pipeline = new LatePipeline();
  pipeline.waiting = undefined;
  const { node, port } = await startTestNode({ plugins: [pipelinePlugin(pipeline as unknown as ModelPipeline), plugin] });
  try {
    assert.deepEqual(await readyz(port), [503, { status: "waiting", reason: "warming up" }]);
    reason = undefined;
    assert.deepEqual(await readyz(port), [200, { status: "ready" }]);
    broken = true;
    assert.deepEqual(await readyz(port), [503, { status: "waiting", reason: "a readiness check failed: boom" }]);
  } finally {
    await node.close();
  }
});
