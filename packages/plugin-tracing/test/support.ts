/** A real node (a FakePipeline that reports queue time, inference and OpenAI plugins) traced into an InMemorySpanExporter. */
import type { GenerateRequest, GenerationEvent, Plugin } from "@modelnode/core";
import { pipelinePlugin, type ModelNode } from "@modelnode/core/server";
import { eventually, FakePipeline, sleep, startTestNode } from "@modelnode/testing";
import { inferencePlugin } from "@modelnode/plugin-inference";
import { openaiPlugin } from "@modelnode/plugin-openai";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { TRACER_PROVIDER, tracingPlugin, type TracingOptions } from "../src/index.js";

/** Says it waited 2 ms for a batch, as @modelnode/onnx reports it. */
export class QueuedPipeline extends FakePipeline {
  // Slower than the queue time it reports, as a real generation is.
  override tokenDelay = () => sleep(5);

  override async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    for await (const event of super.stream(request)) {
      yield event.kind === "done" ? { ...event, result: { ...event.result, timings: { queuedMs: 2 } } } : event;
    }
  }
}

export interface Traced {
  node: ModelNode;
  port: number;
  url: string;
  exporter: InMemorySpanExporter;
  /** Flushes the node's spans and waits until `ready` holds for them. */
  spans(ready: (spans: ReadableSpan[]) => boolean): Promise<ReadableSpan[]>;
}

export async function tracedNode(options: Partial<TracingOptions> = {}, extra: Plugin[] = []): Promise<Traced> {
  const exporter = new InMemorySpanExporter();
  const { node, port, url } = await startTestNode({
    plugins: [pipelinePlugin(new QueuedPipeline()), tracingPlugin({ exporter, ...options }), ...extra, inferencePlugin(), openaiPlugin()],
  });
  const provider = node.container.resolve(TRACER_PROVIDER);
  return {
    node,
    port,
    url,
    exporter,
    async spans(ready) {
      let spans: ReadableSpan[] = [];
      await eventually(
        () => {
          void provider.forceFlush();
          spans = exporter.getFinishedSpans();
          return ready(spans);
        },
        () => `spans: ${spans.map((s) => s.name).join(", ")}`,
        5000,
      );
      return spans;
    },
  };
}

export const named = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no span ${name} among ${spans.map((s) => s.name).join(", ")}`);
  return span;
};

export const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
export const PARENT_ID = "b7ad6b7169203331";
export const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;
