/**
 * Pull on first request (docs/models.md, "Pulling on first request"): with `pullOnDemand.enabled`
 * (`--pull-on-demand`, off by default) and a models directory, a request naming a Hub model
 * (`org/name` or `org/name:dtype`) the directory lacks pulls it there with @modelnode/hub's
 * pullModel, and the directory's lifecycle loads it. The ONNX package knows no Hub: this file is
 * the `ModelFetcher` it is given. Failures become coded errors naming the model and the reason.
 */
import { errors, z, type Logger } from "@modelnode/core";
import { HubPullError, parseModelRef, pullModel, type PullProgress } from "@modelnode/hub";
import type { ModelFetcher } from "@modelnode/onnx";
import { duration } from "./lifecycle-config.js";

/** `pullOnDemand` in the config (flags --pull-on-demand, --hub-url, --pull-timeout; env HF_ENDPOINT, HF_TOKEN). */
export const pullOnDemandConfigSchema = z.strictObject({
  /** Pull a model the models directory lacks on its first request. Needs modelsDir. Default false. */
  enabled: z.boolean({ error: "expected true or false" }).default(false),
  /** The Hub (or a mirror). Default: HF_ENDPOINT, else https://huggingface.co. */
  hubUrl: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).optional(),
  /** Sent as `Authorization: Bearer …` (private and gated models). Default: HF_TOKEN. */
  token: z.string({ error: "expected a token" }).min(1, { error: "expected a token" }).max(4096).optional(),
  /** A pull taking longer is aborted (its partial files are kept for the next). Default 30m. */
  timeout: duration(1000, false).default(30 * 60_000),
});

export type PullOnDemandConfig = z.output<typeof pullOnDemandConfigSchema>;

/** Hub ids only: `org/name` (an owner is required, so that a mistyped local name is not sent to the Hub), with an optional `:dtype`. */
function refOf(modelId: string) {
  if (!modelId.includes("/")) return undefined;
  try {
    return parseModelRef(modelId);
  } catch {
    return undefined;
  }
}

/** Pull failures a later try may get past (BUSY, 503); the others mean no such model here (MODEL_NOT_FOUND, 404). */
const RETRYABLE = new Set(["network", "integrity", "bad-response", "locked", "aborted"]);

/** The fetcher the models directory's pipeline is given. */
export function hubFetcher(config: PullOnDemandConfig, modelsDir: string, logger: Logger): ModelFetcher {
  return {
    accepts: (modelId) => refOf(modelId) !== undefined,
    async fetch(modelId, signal) {
      const ref = refOf(modelId)!;
      const log = logger.child({ component: "pull", model: modelId });
      try {
        const result = await pullModel({
          id: ref.id,
          dtype: ref.dtype,
          modelsDir,
          hubUrl: config.hubUrl,
          token: config.token,
          signal: AbortSignal.any([signal, AbortSignal.timeout(config.timeout)]),
          onProgress: (event) => logProgress(log, event),
        });
        log.info({ dir: result.dir, dtype: result.dtype, revision: result.revision, receivedBytes: result.receivedBytes, fromCache: result.fromCache }, "pulled");
      } catch (error) {
        if (!(error instanceof HubPullError)) throw error;
        const reason = error.code === "aborted" && !signal.aborted ? `the pull took longer than ${config.timeout} ms (${error.message})` : error.message;
        const details = { reason: error.code };
        if (RETRYABLE.has(error.code)) throw errors.busy(`Model "${modelId}" could not be pulled now: ${reason}; retry shortly.`, { model: modelId, ...details });
        throw errors.modelNotFetched(modelId, reason, details);
      }
    },
  };
}

/** Each file's start and end, retries and the plan, at info; byte counts are left out (a line per chunk). */
function logProgress(log: Logger, event: PullProgress): void {
  if (event.type === "plan") log.info({ dtype: event.dtype, revision: event.revision, files: event.files.length, bytesToFetch: event.bytesToFetch }, "pulling");
  else if (event.type === "file-start") log.info({ file: event.path, size: event.size, resumedFrom: event.resumedFrom }, "fetching");
  else if (event.type === "file-done") log.info({ file: event.path }, "verified");
  else if (event.type === "retry") log.info({ file: event.path, at: event.at, reason: event.reason }, "download broke off; continuing");
}
