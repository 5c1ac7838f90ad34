/**
 * The metrics of one node, in a prom-client Registry of its own (never the global one: two
 * nodes in one process each report their own figures). Named after vLLM's serving metrics,
 * with `prefix` (default "modelnode_") in front.
 *
 * Three sources:
 * - the generations themselves, observed by the instrumented pipeline (instrumented-pipeline.ts):
 *   tokens, time to first token, inter-token latency, end-to-end latency, finish reasons;
 * - every request's end (`host.onRequestEnd`): messages by protocol and type, and their durations;
 * - figures read at scrape time (`collect()`): the pipeline's stats (running, waiting, batch size,
 *   cache bytes, run counters), its workers' loads when it has workers (worker-metrics.ts), and
 *   the node's (connections, errors by code).
 *
 * Every label value is bounded: model ids only once the pipeline has accepted them (a served
 * model), message types only of registered handlers and routes, error codes from the catalogue,
 * finish reasons from the contract. Nothing is labelled by connection, request id or client input.
 */
import type { Logger, NodeInfo, NodeStats, PipelineStats, RequestEnd, WorkerLoad } from "@modelnode/core";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { registerWorkerMetrics } from "./worker-metrics.js";
import { ModelHistogram } from "./model-histogram.js";
import { RequestTally } from "./request-tally.js";

/** Buckets in seconds, from vLLM's (extended down for small models on fast machines). */
export const BUCKETS = {
  timeToFirstToken: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80],
  interTokenLatency: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
  e2eRequestLatency: [0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960],
  queueTime: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320],
  messageDuration: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  stepLatency: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
} as const;

/** What a finished generation reports (the pipeline contract's GenerationResult). */
export interface ObservedResult {
  finishReason: string;
  usage: { promptTokens: number; completionTokens: number };
  /** Where the pipeline measures it (@modelnode/onnx does): how long the generation waited for a batch. */
  timings?: { queuedMs?: number };
}

/** What the instrumented pipeline reports; every `model` is a model the pipeline serves. */
export interface GenerationObserver {
  firstToken(model: string, ms: number): void;
  interToken(model: string, ms: number): void;
  finished(model: string, result: ObservedResult, ms: number): void;
  /** The consumer stopped reading before the result (a client went away mid-stream). */
  abandoned(model: string, ms: number): void;
  step(model: string, inputTokens: number, ms: number): void;
}

/** Pipeline stats figures that only grow, and the counters they become. */
const PIPELINE_COUNTERS = [
  ["prefillRuns", "prefill_runs_total", "Batched prefill runs of the model (each feeds one chunk of one or more prompts or steps)."],
  ["prefillRows", "prefill_rows_total", "Inputs fed by prefill runs, summed over runs."],
  ["decodeRuns", "decode_runs_total", "Batched decode runs of the model (each advances every running generation of a batch by one token)."],
  ["decodeRows", "decode_rows_total", "Generations advanced by decode runs, summed over runs (decode_rows_total / decode_runs_total is the mean decode batch)."],
  ["specDraftTokens", "spec_decode_num_draft_tokens_total", "Tokens guessed by speculative decoding (prompt lookup) and fed to the model for checking."],
  ["specAcceptedTokens", "spec_decode_num_accepted_tokens_total", "Guessed tokens the model agreed with (accepted / draft tokens is the acceptance rate)."],
  ["sessionsExpired", "step_sessions_expired_total", "Legacy step sessions freed after sitting idle."],
  ["sessionsEvicted", "step_sessions_evicted_total", "Legacy step sessions evicted to make room."],
  // A pipeline that loads models on demand (docs/models.md); 0 from one that does not.
  ["modelLoads", "model_loads_total", "Models loaded on demand."],
  ["modelUnloads", "model_unloads_total", "Models unloaded (idle past their keep-alive, to make room, or on close)."],
  ["modelLoadFailures", "model_load_failures_total", "Model loads that failed."],
  ["modelLoadSeconds", "model_load_seconds_total", "Time spent loading models on demand, summed over loads."],
  ["prefixCacheQueries", "prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache (vLLM's prefix_cache_queries; 0 when the pipeline has none)."],
  ["prefixCacheHits", "prefix_cache_hits_total", "Prompt tokens found in the prefix cache, not computed (vLLM's prefix_cache_hits; hits / queries is the hit rate)."],
] as const;

export interface MetricsSources {
  info: NodeInfo;
  /** The pipeline's own stats (the instrumented proxy passes stats() through). */
  pipelineStats: () => PipelineStats;
  /** Per-worker load, when the pipeline spreads its work over workers (ModelPipeline.workerLoads). */
  workerLoads?: () => WorkerLoad[];
  logger: Logger;
}

export class ServingMetrics implements GenerationObserver {
  readonly registry = new Registry();
  private readonly requests: RequestTally;
  private readonly promptTokens: Counter<"model">;
  private readonly generationTokens: Counter<"model">;
  private readonly ttft: Histogram<"model">;
  /** Observed once per token: counted without prom-client's per-call label hashing (model-histogram.ts). */
  private readonly itl: ModelHistogram;
  private readonly e2e: Histogram<"model">;
  private readonly queueTime: Histogram<"model">;
  private readonly success: Counter<"model" | "finished_reason">;
  private readonly stepLatency: Histogram<"model">;
  private readonly stepTokens: Counter<"model">;
  /** One read of each stats source per scrape, shared by every metric's collect(). */
  private snapshot: { node?: NodeStats; pipeline?: PipelineStats } | undefined;
  private statsFailed = false;

  constructor(
    prefix: string,
    processMetrics: boolean,
    private readonly sources: MetricsSources,
  ) {
    const registers = [this.registry];
    const p = prefix;
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: p });
    const scrape = () => this.read();

    // Generations (observed by the instrumented pipeline), vLLM's names.
    this.promptTokens = new Counter({ name: `${p}prompt_tokens_total`, help: "Prompt tokens processed by finished generations.", labelNames: ["model"], registers });
    this.generationTokens = new Counter({ name: `${p}generation_tokens_total`, help: "Tokens generated by finished generations.", labelNames: ["model"], registers });
    this.ttft = new Histogram({
      name: `${p}time_to_first_token_seconds`,
      help: "From the pipeline receiving a generation to its first piece of text (queue and prefill included).",
      labelNames: ["model"],
      buckets: [...BUCKETS.timeToFirstToken],
      registers,
    });
    this.itl = new ModelHistogram(`${p}inter_token_latency_seconds`, "Between consecutive pieces of text of a generation.", BUCKETS.interTokenLatency, this.registry);
    this.e2e = new Histogram({
      name: `${p}e2e_request_latency_seconds`,
      help: "From the pipeline receiving a generation to its result.",
      labelNames: ["model"],
      buckets: [...BUCKETS.e2eRequestLatency],
      registers,
    });
    this.queueTime = new Histogram({
      name: `${p}request_queue_time_seconds`,
      help: "Time a generation waited for a batch slot and cache memory (only from pipelines that report it).",
      labelNames: ["model"],
      buckets: [...BUCKETS.queueTime],
      registers,
    });
    this.success = new Counter({
      name: `${p}request_success_total`,
      help: "Generations that ended, by finish reason (stop, length, cancelled).",
      labelNames: ["model", "finished_reason"],
      registers,
    });
    this.stepLatency = new Histogram({
      name: `${p}step_latency_seconds`,
      help: "Legacy steps (one forward pass of a step session), from the pipeline receiving them to their answer.",
      labelNames: ["model"],
      buckets: [...BUCKETS.stepLatency],
      registers,
    });
    this.stepTokens = new Counter({ name: `${p}step_input_tokens_total`, help: "Token ids fed by legacy steps.", labelNames: ["model"], registers });

    // The pipeline's figures, read at scrape time.
    const pipelineGauge = (name: string, help: string, figure: (s: PipelineStats) => number | undefined) =>
      new Gauge({
        name: `${p}${name}`,
        help,
        registers,
        collect() {
          const stats = scrape().pipeline;
          if (stats) this.set(finite(figure(stats)));
        },
      });
    pipelineGauge("num_requests_running", "Generations admitted to a batch (prefilling or decoding).", (s) => s.generationsInFlight);
    pipelineGauge("num_requests_waiting", "Generations waiting for a batch slot or cache memory (0 when the pipeline does not report it).", (s) => s.queuedGenerations);
    pipelineGauge("batch_size", "Rows of the batches running now, all models together (0 when the pipeline does not report it).", (s) => s.batchSize);
    pipelineGauge("kv_cache_bytes", "Bytes held by key/value caches (generations and step sessions, padding included).", (s) => s.cacheBytes);
    pipelineGauge("kv_cache_committed_bytes", "Bytes of key/value cache reserved by admission (0 when the pipeline does not report it).", (s) => s.cacheBytesCommitted);
    pipelineGauge("step_sessions", "Legacy step sessions held.", (s) => s.activeSessions);
    if (sources.workerLoads) registerWorkerMetrics(this.registry, p, sources.workerLoads);
    pipelineGauge("models_loaded", "Models loaded on demand and in memory now (0 when the pipeline does not load on demand).", (s) => s.modelsLoaded);
    pipelineGauge("models_loaded_bytes", "Estimated memory of the models loaded on demand.", (s) => s.modelBytesLoaded);
    pipelineGauge("prefix_cache_bytes", "Bytes of token blocks kept in the prefix cache (0 when the pipeline has none).", (s) => s.prefixCacheBytes);
    pipelineGauge("prefix_cache_blocks", "Token blocks kept in the prefix cache (0 when the pipeline has none).", (s) => s.prefixCacheBlocks);
    for (const [figure, name, help] of PIPELINE_COUNTERS) {
      new Counter({
        name: `${p}${name}`,
        help,
        registers,
        collect() {
          const stats = scrape().pipeline;
          if (stats) mirror(this, finite(stats[figure]));
        },
      });
    }

    // The node's figures, read at scrape time.
    const { info } = sources;
    new Gauge({
      name: `${p}connections`,
      help: "WebSocket connections open.",
      registers,
      collect() {
        this.set(info.load().connections);
      },
    });
    new Gauge({
      name: `${p}requests_in_flight`,
      help: "Requests (messages and HTTP route calls) being handled.",
      registers,
      collect() {
        this.set(info.load().inFlight);
      },
    });
    new Counter({
      name: `${p}connections_total`,
      help: "WebSocket connections accepted.",
      registers,
      collect() {
        const stats = scrape().node;
        if (stats) mirror(this, stats.total_connections);
      },
    });
    new Counter({
      name: `${p}invalid_messages_total`,
      help: "Frames that were not a message at all (not JSON, not an object, neither format).",
      registers,
      collect() {
        const stats = scrape().node;
        if (stats) mirror(this, stats.invalid_messages);
      },
    });
    new Counter({
      name: `${p}errors_total`,
      help: "Error replies sent, by code (frames refused before a handler was chosen included).",
      labelNames: ["code"],
      registers,
      collect() {
        const stats = scrape().node;
        if (!stats) return;
        this.reset();
        for (const [code, count] of Object.entries(stats.errors_by_code)) this.inc({ code }, count);
      },
    });

    // Every request's end, counted without prom-client's per-call label hashing (request-tally.ts).
    this.requests = new RequestTally({
      countName: `${p}messages_total`,
      countHelp: "Requests handled (WebSocket messages and HTTP route calls), by protocol and type.",
      durationName: `${p}message_duration_seconds`,
      durationHelp: "From a request's dispatch to its last reply (a stream's whole length), by protocol and type.",
      buckets: BUCKETS.messageDuration,
      registry: this.registry,
    });
  }

  /** host.onRequestEnd's observer. */
  requestEnded(event: RequestEnd): void {
    this.requests.record(event.protocol, event.type, event.durationMs / 1000);
  }

  firstToken(model: string, ms: number): void {
    this.ttft.observe({ model }, ms / 1000);
  }

  interToken(model: string, ms: number): void {
    this.itl.observe(model, ms / 1000);
  }

  finished(model: string, result: ObservedResult, ms: number): void {
    this.e2e.observe({ model }, ms / 1000);
    this.promptTokens.inc({ model }, nonNegative(result.usage.promptTokens));
    this.generationTokens.inc({ model }, nonNegative(result.usage.completionTokens));
    this.success.inc({ model, finished_reason: finishReason(result.finishReason) });
    const queued = result.timings?.queuedMs;
    if (typeof queued === "number" && Number.isFinite(queued) && queued >= 0) this.queueTime.observe({ model }, queued / 1000);
  }

  abandoned(model: string, ms: number): void {
    this.e2e.observe({ model }, ms / 1000);
    this.success.inc({ model, finished_reason: "cancelled" });
  }

  step(model: string, inputTokens: number, ms: number): void {
    this.stepLatency.observe({ model }, ms / 1000);
    this.stepTokens.inc({ model }, nonNegative(inputTokens));
  }

  /** The Prometheus text exposition of everything above. */
  async scrape(): Promise<string> {
    try {
      return await this.registry.metrics();
    } finally {
      this.snapshot = undefined;
    }
  }

  /**
   * Both stats sources, read once per scrape: every collect() runs in the same tick of
   * registry.metrics(), and the snapshot is dropped at the next microtask (and after the scrape).
   */
  private read(): { node?: NodeStats; pipeline?: PipelineStats } {
    if (this.snapshot) return this.snapshot;
    const snapshot: { node?: NodeStats; pipeline?: PipelineStats } = {};
    let failure: unknown;
    // stats() must not throw (the pipeline contract); if one does, its figures keep their last values.
    try {
      snapshot.pipeline = this.sources.pipelineStats();
    } catch (err) {
      failure = err;
    }
    try {
      snapshot.node = this.sources.info.getStats();
    } catch (err) {
      failure ??= err;
    }
    if (failure !== undefined && !this.statsFailed) {
      this.sources.logger.warn({ err: failure }, "reading stats for /metrics failed; those figures keep their last values");
    }
    this.statsFailed = failure !== undefined;
    this.snapshot = snapshot;
    queueMicrotask(() => {
      if (this.snapshot === snapshot) this.snapshot = undefined;
    });
    return snapshot;
  }
}

/** A counter that shows an absolute count kept elsewhere. */
function mirror(counter: Counter, value: number): void {
  counter.reset();
  if (value > 0) counter.inc(value);
}

function finite(value: number | undefined): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function nonNegative(value: number): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}

/** The contract's three reasons; anything else a pipeline invents is not a label value. */
function finishReason(reason: string): string {
  return reason === "stop" || reason === "length" || reason === "cancelled" ? reason : "other";
}
