/** Scraping a node's /metrics and reading it back, with parse-prometheus-text-format. */
import { createRequire } from "node:module";
import { defineHandler, definePlugin, PIPELINE, reply, z } from "@modelnode/core";

export interface MetricFamily {
  name: string;
  help: string;
  type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

// The package ships no types (and is CommonJS).
const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => MetricFamily[];

export interface Scrape {
  status: number;
  contentType: string | null;
  text: string;
  families: Map<string, MetricFamily>;
  /**
   * One sample's value: `name` is the sample's own name (`x_total`, `x_count`, `x_sum`, …), `labels` must all match.
   * Read from the text itself: parse-prometheus-text-format folds labelled histograms into one sample.
   */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

export async function scrape(port: number, path = "/metrics", headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  const text = await response.text();
  const families = new Map(response.status === 200 ? parsePrometheus(text).map((f) => [f.name, f] as const) : []);
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    text,
    families,
    value: (name, labels = {}) => sampleValue(text, name, labels),
  };
}

function sampleValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const own = Object.fromEntries([...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => own[k] === v)) return Number(match[3]);
  }
  return undefined;
}

/** A gate tokens wait at: `open()` lets everything through from then on. */
export class Gate {
  private release!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.release = resolve));
  open(): void {
    this.release();
  }
}

/**
 * `generate` → streams `generate_chunk`s then a `generate_response` through PIPELINE, the way
 * the inference plugin does (without depending on it).
 */
export const generatePlugin = () =>
  definePlugin({
    name: "generate",
    requires: [PIPELINE],
    handlers: [
      defineHandler({
        type: "generate",
        schema: z.object({ model_id: z.string().max(64), prompt: z.string().max(1000), max_tokens: z.int().min(1).max(32), stream: z.boolean().default(false) }),
        inject: { pipeline: PIPELINE },
        async *handle(msg, ctx, { pipeline }) {
          const request = { modelId: msg.model_id, prompt: msg.prompt, maxTokens: msg.max_tokens, signal: ctx.signal };
          if (!msg.stream) {
            const result = await pipeline.generate(request);
            yield { text: result.text, finish_reason: result.finishReason };
            return;
          }
          for await (const event of pipeline.stream(request)) {
            if (event.kind === "text") yield reply("generate_chunk", { text: event.text });
            else yield { text: event.result.text, finish_reason: event.result.finishReason };
          }
        },
      }),
    ],
  });
