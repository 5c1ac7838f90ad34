/**
 * CLI for the models this repository generates (the repo build runs it for the bundled model):
 *   node packages/model-builder/dist/src/cli.js --out <dir> [--model <preset>] [--if-missing]
 * Presets: tiny-gpt2 (the default, the bundled model), tiny-llama, slow-tiny-gpt2, gpt2-small.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { buildModel } from "./build.js";
import { MODEL_PRESETS, type ModelPreset } from "./specs.js";

const USAGE = `usage: build-tiny-model --out <dir> [--model ${Object.keys(MODEL_PRESETS).join("|")}] [--if-missing]`;

function main(argv: string[]): void {
  let out: string | undefined;
  let model: ModelPreset = "tiny-gpt2";
  let ifMissing = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out") out = argv[++i];
    else if (argv[i] === "--model") model = argv[++i] as ModelPreset;
    else if (argv[i] === "--if-missing") ifMissing = true;
    else throw new Error(`unknown argument "${argv[i]}"; ${USAGE}`);
  }
  if (!out) throw new Error(USAGE);
  if (!(model in MODEL_PRESETS)) throw new Error(`unknown model "${model}"; ${USAGE}`);
  const started = performance.now();
  const { built, dir } = buildModel({ out: resolve(out), model, ifMissing });
  if (built) console.error(`[modelnode] built model ${model} in ${dir} (${Math.round(performance.now() - started)} ms)`);
}

/** Runs the CLI; returns its exit code. */
export function runCli(argv: string[]): number {
  try {
    main(argv);
    return 0;
  } catch (error) {
    console.error(`build-tiny-model: ${(error as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exitCode = runCli(process.argv.slice(2));
