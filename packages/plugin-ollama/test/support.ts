/** A real node (FakePipeline + the Ollama plugin) on a free loopback port, and ways to call it. */
import { pipelinePlugin } from "@modelnode/core/server";
import { FAKE_MODELS, FakePipeline, startTestNode } from "@modelnode/testing";
import { ollamaPlugin, type OllamaPluginOptions } from "../src/index.js";

/** The fake models, and one whose chats are rendered with its own template. */
export const MODELS = [...FAKE_MODELS, { id: "chatty", contextLength: 64, vocabSize: 128, architecture: "fake", hasChatTemplate: true }];

export async function serve(options: OllamaPluginOptions = {}, pipeline = new FakePipeline(MODELS)) {
  const { node, port } = await startTestNode({ plugins: [pipelinePlugin(pipeline), ollamaPlugin(options)] });
  const base = `http://127.0.0.1:${port}`;
  return { node, pipeline, base, close: () => node.close() };
}

export const post = (url: string, body: unknown) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });

/** The NDJSON lines of a body, parsed. */
export function ndjson(text: string): Record<string, unknown>[] {
  assert(text.endsWith("\n"), `NDJSON ends with a newline: ${JSON.stringify(text.slice(-40))}`);
  return text.slice(0, -1).split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

function assert(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Error(message);
}
