/** Test helpers: @modelnode/testing's node and client, and a fake pipeline. */
import type { ModelPipeline, PipelineStats } from "@modelnode/core";

export { header, startTestNode as startNode, TestClient } from "@modelnode/testing";

/** A stand-in for a real pipeline: fixed models, stats the test can change. */
export class FakePipeline implements ModelPipeline {
  figures: PipelineStats = { activeSessions: 0, generationsInFlight: 0, cacheBytes: 0 };
  failStats = false;

  constructor(private readonly modelIds: string[]) {}

  listModels() {
    return this.modelIds.map((id) => ({ id, contextLength: 64, vocabSize: 100 }));
  }
  hasModel(id: string) {
    return this.modelIds.includes(id);
  }
  stats(): PipelineStats {
    if (this.failStats) throw new Error("stats unavailable");
    return this.figures;
  }
  async generate(): Promise<never> {
    throw new Error("not used");
  }
  async *stream(): AsyncIterable<never> {
    throw new Error("not used");
  }
  async step(): Promise<never> {
    throw new Error("not used");
  }
  closeSession() {
    return false;
  }
  async close() {}
}
