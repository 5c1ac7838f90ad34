/** `modelnode-pull`'s arguments (node:util parseArgs), and its usage text. */
import { parseArgs } from "node:util";
import { PULL_DTYPES, type PullDtype } from "./dtype-files.js";
import { HubPullError } from "./errors.js";
import { checkDtype, parseModelRef } from "./model-ref.js";
import type { PullModelOptions } from "./pull.js";

export const USAGE = `usage: modelnode-pull <org/name[:dtype]> [options]
   or: node examples/model-node/dist/src/cli.js pull <org/name[:dtype]> [options]
   or: npm run pull -- <org/name[:dtype]> [options]

Downloads one dtype of an ONNX model in transformers.js's layout from the Hugging Face Hub into
<models-dir>/<org>/<name>/: that dtype's graph (onnx/model_quantized.onnx for q8, …) and its
external data, with config.json, generation_config.json, the tokenizer and chat template files.
Other dtypes' graphs are not fetched. A broken download resumes where it stopped (HTTP Range); every
file is checked against the size and hash (sha256 for LFS files) the Hub reports, and a file that
does not match is deleted. Then serve it: npm start -- --model <id>=<dir>[:dtype].

options:
  --dtype <dtype>       the weights to fetch: ${PULL_DTYPES.join(", ")}
                        (or org/name:dtype); default fp32, or the repository's only graph
  --revision <rev>      a branch, tag or commit (default main)
  --models-dir <dir>    where models land (default: $MODELNODE_MODELS_DIR, else ./models)
  --hub-url <url>       another Hub or a mirror (default: $HF_ENDPOINT, else https://huggingface.co)
  --token <token>       for private or gated models (default: $HF_TOKEN)
  --retries <n>         further attempts when a download breaks off, each resuming where it
                        stopped (default 2; 0 to 100)
  --stall-timeout <s>   a download that receives nothing for <s> seconds counts as broken off
                        (default 60)
  --offline             never contact the Hub: succeed only if the model is already pulled
                        (also when HF_HUB_OFFLINE=1)
  --quiet               no progress; only the result
  -h, --help            this text

exit codes: 0 pulled (or already here), 1 the pull failed, 2 a usage mistake, 130 interrupted
(Ctrl-C: the partial file is kept, and the next pull continues it)

examples:
  modelnode-pull onnx-community/Qwen3-0.6B-ONNX:q4f16
  HF_HUB_OFFLINE=1 modelnode-pull onnx-community/Qwen3-0.6B-ONNX:q4f16   (is it here?)
`;

/** What the command line asks for: pullModel's options (those a command line can give), and its own. */
export type PullArgs = Pick<PullModelOptions, "id" | "dtype" | "revision" | "modelsDir" | "hubUrl" | "token" | "offline" | "retries" | "stallTimeoutMs"> & {
  help?: boolean;
  quiet: boolean;
};

export class UsageError extends Error {}

export function parsePullArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): PullArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        dtype: { type: "string" },
        revision: { type: "string" },
        "models-dir": { type: "string" },
        "hub-url": { type: "string" },
        token: { type: "string" },
        offline: { type: "boolean" },
        retries: { type: "string" },
        "stall-timeout": { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see --help`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true, id: "", modelsDir: "", quiet: true };
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "name a model: org/name[:dtype]; see --help" : `one model at a time (got ${positionals.join(", ")}); see --help`);
  try {
    const ref = parseModelRef(positionals[0]);
    if (values.dtype !== undefined) {
      checkDtype(values.dtype);
      if (ref.dtype && ref.dtype !== values.dtype) throw new UsageError(`${positionals[0]} and --dtype ${values.dtype} disagree; give one`);
    }
    if (values["hub-url"] !== undefined && !/^https?:\/\/[^/]/.test(values["hub-url"])) {
      throw new UsageError(`--hub-url: expected an http(s) URL, got "${values["hub-url"]}"`);
    }
    for (const name of ["revision", "models-dir", "token"] as const) {
      if (values[name] === "") throw new UsageError(`--${name}: expected a value, got an empty one`);
    }
    const retries = values.retries === undefined ? undefined : integerFlag("--retries", values.retries, 0, 100);
    const stall = values["stall-timeout"] === undefined ? undefined : integerFlag("--stall-timeout", values["stall-timeout"], 1, 3600);
    return {
      id: ref.id,
      retries,
      stallTimeoutMs: stall === undefined ? undefined : stall * 1000,
      dtype: (values.dtype as PullDtype | undefined) ?? ref.dtype,
      revision: values.revision,
      modelsDir: values["models-dir"] ?? (env.MODELNODE_MODELS_DIR || "models"),
      hubUrl: values["hub-url"],
      token: values.token,
      offline: values.offline,
      quiet: values.quiet ?? false,
    };
  } catch (error) {
    if (error instanceof HubPullError) throw new UsageError(`${error.message}; see --help`);
    throw error;
  }
}

function integerFlag(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`${name}: expected a whole number from ${min} to ${max}, got "${text}"`);
  return value;
}
