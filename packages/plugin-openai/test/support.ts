/** A real node (FakePipeline + the OpenAI plugin) on a free loopback port, and the official SDK pointed at it. */
import OpenAI from "openai";
import type { Plugin } from "@modelnode/core";
import { pipelinePlugin, type NodeOptions } from "@modelnode/core/server";
import { FakePipeline, startTestNode } from "@modelnode/testing";
import { openaiPlugin, type OpenAIPluginOptions } from "../src/index.js";

export interface Served {
  node: Awaited<ReturnType<typeof startTestNode>>["node"];
  pipeline: FakePipeline;
  /** http://127.0.0.1:<port> */
  base: string;
  client: OpenAI;
  close(): Promise<void>;
}

export async function serve(
  options: OpenAIPluginOptions = {},
  { pipeline = new FakePipeline(), before = [], node: nodeOptions = {} }: { pipeline?: FakePipeline; before?: Plugin[]; node?: NodeOptions } = {},
): Promise<Served> {
  const { node, port } = await startTestNode({ ...nodeOptions, plugins: [pipelinePlugin(pipeline), ...before, openaiPlugin(options)] });
  const base = `http://127.0.0.1:${port}`;
  // No retries: a 429 or 503 is what the test wants to see, at once.
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "x", maxRetries: 0 });
  return { node, pipeline, base, client, close: () => node.close() };
}

export const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

/** The `data:` payloads of a server-sent-event body, in order. */
export function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((block) => block.length > 0)
    .map((block) => {
      if (!block.startsWith("data: ")) throw new Error(`not a data event: ${JSON.stringify(block)}`);
      return block.slice("data: ".length);
    });
}
