/**
 * `modelnode-pull` (also `model-node pull` and `npm run pull --`): pulls one dtype of a Hub model
 * into the models folder and says how to serve it. Progress on stderr (progress.ts); the result on
 * stdout. Exit codes: 0 pulled or already here, 1 the pull failed, 2 a usage mistake, 130 interrupted.
 */
import { relative, resolve } from "node:path";
import { parsePullArgs, UsageError, USAGE } from "./cli-args.js";
import { HubPullError } from "./errors.js";
import { formatBytes, progressReporter } from "./progress.js";
import { isOfflineEnv, pullModel } from "./pull.js";

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { isTTY?: boolean; columns?: number; write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal?: AbortSignal;
}

/**
 * Runs the CLI; returns its exit code. Without `io` it is the process's: stdout, stderr, the
 * environment, and SIGINT/SIGTERM, which abort the pull (the partial file is kept for the next
 * one; exit 130); a second signal exits at once.
 */
export async function runPullCli(argv: string[], io?: CliIo): Promise<number> {
  if (io) return run(argv, io);
  const controller = new AbortController();
  const onSignal = () => (controller.signal.aborted ? process.exit(130) : controller.abort());
  process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
  try {
    return await run(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), signal: controller.signal });
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
  }
}

async function run(argv: string[], io: CliIo): Promise<number> {
  let args;
  try {
    args = parsePullArgs(argv, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`modelnode-pull: ${error.message}\n`);
    return 2;
  }
  if (args.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const progress = progressReporter(io.stderr);
  try {
    const result = await pullModel({
      id: args.id,
      dtype: args.dtype,
      revision: args.revision,
      modelsDir: resolve(io.cwd, args.modelsDir),
      hubUrl: args.hubUrl ?? (io.env.HF_ENDPOINT || undefined),
      token: args.token ?? (io.env.HF_TOKEN || undefined),
      offline: args.offline || isOfflineEnv(io.env),
      retries: args.retries,
      stallTimeoutMs: args.stallTimeoutMs,
      signal: io.signal,
      onProgress: args.quiet ? undefined : progress.onProgress,
    });
    progress.finish();
    const shown = relative(io.cwd, result.dir).startsWith("..") ? result.dir : relative(io.cwd, result.dir) || ".";
    const fetched = result.files.filter((f) => f.fetched).length;
    io.stdout.write(
      `${result.fromCache ? "already here" : "pulled"}: ${result.id} (${result.dtype}, revision ${result.revision.slice(0, 12)}) in ${shown}` +
        `${fetched > 0 ? ` (${fetched} file${fetched === 1 ? "" : "s"}, ${formatBytes(result.receivedBytes)} downloaded)` : ""}\n` +
        `serve it: npm start -- --model ${result.id}=${shown}${result.dtype === "fp32" ? "" : `:${result.dtype}`}\n`,
    );
    return 0;
  } catch (error) {
    progress.finish();
    if (!(error instanceof HubPullError)) throw error;
    io.stderr.write(`pull failed (${error.code}): ${error.message}\n`);
    return error.code === "aborted" ? 130 : 1;
  }
}
