/**
 * A models directory for the end-to-end tests (test/models-dir-*.test.ts): a temp folder of
 * seeded models — copies of the bundled tiny model as `alpha/`, `org/beta/` and `gamma/`, and,
 * when asked, a larger one built by the model builder as `big/` (~90 MB fp32) — and example nodes
 * serving it, with the official clients' calls the tests share.
 */
import { cpSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { PIPELINE } from "@modelnode/core";
import type { ModelNodeConfigInput } from "@modelnode/example-model-node";
import { buildModel, MODEL_PRESETS, type Gpt2Spec } from "@modelnode/model-builder";
import { startNode, type RunningNode } from "./node.js";
import { TINY_MODEL_DIR } from "./paths.js";

export interface ModelsDir {
  root: string;
  tinyBytes: number;
  /** 0 without `big`. */
  bigBytes: number;
  /** An example node serving the directory (no explicit models) with these lifecycle settings. */
  start(modelLifecycle: ModelNodeConfigInput["modelLifecycle"]): Promise<{ base: string; running: RunningNode }>;
  /** Closes the nodes and removes the folder. */
  close(): Promise<void>;
}

export function makeModelsDir({ big = false } = {}): ModelsDir {
  const root = mkdtempSync(join(tmpdir(), "modelnode-models-dir-"));
  for (const name of ["alpha", join("org", "beta"), "gamma"]) cpSync(TINY_MODEL_DIR, join(root, name), { recursive: true });
  if (big) {
    // Enough weights for its load and unload to show in the process's RSS.
    const spec: Gpt2Spec = { ...(MODEL_PRESETS["tiny-gpt2"] as Gpt2Spec), hidden: 384, heads: 6, layers: 2, seed: 11 };
    buildModel({ out: join(root, "big"), model: spec });
  }
  const started: RunningNode[] = [];
  return {
    root,
    tinyBytes: statSync(join(TINY_MODEL_DIR, "onnx", "model.onnx")).size,
    bigBytes: big ? statSync(join(root, "big", "onnx", "model.onnx")).size : 0,
    async start(modelLifecycle) {
      const running = await startNode({ models: undefined, modelsDir: root, modelLifecycle });
      started.push(running);
      return { base: `http://127.0.0.1:${running.port}`, running };
    },
    async close() {
      await Promise.all(started.map(({ node }) => node.close()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export const stateOf = (running: RunningNode, id: string) => running.node.container.resolve(PIPELINE).listModels().find((m) => m.id === id)?.state;
export const getJson = async (url: string) => (await (await fetch(url)).json()) as any;
export const openaiOf = (base: string, maxRetries = 0) => new OpenAI({ baseURL: `${base}/v1`, apiKey: "x", maxRetries });
/** One short completion; `expectError`: no retry (the SDK would retry a 503). */
export const complete = (base: string, model: string, maxTokens = 2, expectError = false) =>
  openaiOf(base, expectError ? 0 : 2).completions.create({ model, prompt: "Hello", max_tokens: maxTokens, temperature: 0 });
export type ApiError = InstanceType<typeof OpenAI.APIError>;

/** GPT-2's end-of-text token never chosen: a held stream cannot end early. */
const NO_EOS_IDS = { 50256: -100 };

/** A 300-token stream on `model` whose first piece is read at once and the rest only when asked (then counted, in characters). */
export function holdStream(running: RunningNode, model: string) {
  const stream = running.node.container.resolve(PIPELINE).stream({ modelId: model, prompt: "Once", maxTokens: 300, temperature: 0, logitBias: NO_EOS_IDS });
  const iterator = stream[Symbol.asyncIterator]();
  const first = iterator.next();
  return {
    first,
    rest: async () => {
      let chars = 0;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) if (next.value.kind === "text") chars += next.value.text.length;
      return chars;
    },
  };
}
