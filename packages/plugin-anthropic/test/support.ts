/** A real node (FakePipeline + the Anthropic plugin) on a free loopback port, spoken to with fetch. */
import type { Plugin } from "@modelnode/core";
import { pipelinePlugin } from "@modelnode/core/server";
import { FakePipeline, startTestNode } from "@modelnode/testing";
import { anthropicPlugin, type AnthropicPluginOptions } from "../src/index.js";

export interface Served {
  pipeline: FakePipeline;
  /** http://127.0.0.1:<port> */
  base: string;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export async function serve(options: AnthropicPluginOptions = {}, { pipeline = new FakePipeline(), before = [] as Plugin[] } = {}): Promise<Served> {
  const { node, port } = await startTestNode({ plugins: [pipelinePlugin(pipeline), ...before, anthropicPlugin(options)] });
  const base = `http://127.0.0.1:${port}`;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { pipeline, base, post, close: () => node.close() };
}

/** The server-sent events of a body: each block's `event:` name and its parsed `data:`. */
export function sseEvents(text: string): { event: string; data: { type: string } & Record<string, unknown> }[] {
  return text
    .split("\n\n")
    .filter((block) => block.length > 0)
    .map((block) => {
      const match = /^event: (\S+)\ndata: (.*)$/s.exec(block);
      if (!match) throw new Error(`not a named event: ${JSON.stringify(block)}`);
      return { event: match[1], data: JSON.parse(match[2]) };
    });
}

/** A response's JSON body (a message, a count or an error), to read fields of. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const bodyOf = (response: Response): Promise<any> => response.json();
