/**
 * The CLI's request log (docs/operations.md, "Logs"): what a user at `info` sees is what happened
 * that matters, not every message.
 *
 * - `generation done` at info, once per generation: model, finish reason, prompt and completion
 *   tokens, duration (`generation abandoned` when its client stopped reading first). Observed on
 *   the pipeline itself (plugin-metrics' instrumentPipeline decorator), so every API's
 *   generations are logged alike.
 * - `request done` for every request (a WebSocket message given to a handler, or a call to a
 *   plugin's HTTP route): protocol, type, outcome ("ok" or the error code sent), duration. At
 *   info when it failed; at `level` (default debug) when it ended "ok": a heartbeat or a model
 *   list logs nothing at info, and an info line per control message would cost more server CPU
 *   than its whole dispatch (npm run bench:dispatch).
 * Operator endpoints (/health, /metrics, …) are not requests and are not logged.
 */
import { definePlugin, PIPELINE, type Logger, type Plugin, type RequestEnd } from "@modelnode/core";
import { instrumentPipeline, type GenerationObserver } from "@modelnode/plugin-metrics";

export interface RequestLogOptions {
  /** The level of the `request done` line of a request that ended "ok". Default "debug". */
  level?: "info" | "debug";
}

/** List it after the plugins whose handlers run generations: it decorates the pipeline they are given. */
export function requestLogPlugin(options: RequestLogOptions = {}): Plugin {
  const okLevel = options.level ?? "debug";
  return definePlugin({
    name: "request-log",
    version: "0.1.0",
    core: "^0.1.0",
    register(container, host) {
      const logger = host.logger;
      if (container.isRegistered(PIPELINE, true)) container.register(PIPELINE, { useValue: instrumentPipeline(container.resolve(PIPELINE), generationLog(logger)) });
      host.onRequestEnd((event: RequestEnd) => {
        const level = event.outcome === "ok" ? okLevel : "info";
        if (!logger.isLevelEnabled(level)) return;
        logger[level]({ protocol: event.protocol, type: event.type, outcome: event.outcome, ms: tenths(event.durationMs) }, "request done");
      });
    },
  });
}

/** One info line per generation as it ends; nothing per token. */
function generationLog(logger: Logger): GenerationObserver {
  const nothing = () => {};
  return {
    firstToken: nothing,
    interToken: nothing,
    step: nothing,
    finished(model, result, ms) {
      if (!logger.isLevelEnabled("info")) return;
      logger.info(
        {
          model,
          finish: result.finishReason,
          prompt_tokens: result.usage.promptTokens,
          completion_tokens: result.usage.completionTokens,
          ms: tenths(ms),
        },
        "generation done",
      );
    },
    abandoned(model, ms) {
      if (logger.isLevelEnabled("info")) logger.info({ model, ms: tenths(ms) }, "generation abandoned");
    },
  };
}

function tenths(ms: number): number {
  return Math.round(ms * 10) / 10;
}
