/**
 * The command line of `modelnode-build-model`, parsed into what to build. A mistake in it is a
 * UsageError (the CLI exits 2 with its message); everything else is the build's business.
 */
import { BUILD_DTYPES, MODEL_PRESETS, type BuildDtype, type ModelPreset } from "./specs.js";

export class UsageError extends Error {}

export type CliRequest =
  | { kind: "help" }
  | {
      kind: "build";
      preset: ModelPreset;
      out: string;
      /** Undefined: the preset's own (fp32 for all but tiny-llama3, which has every one). */
      dtypes?: BuildDtype[];
      externalData: boolean;
      tokenizer?: string;
      seed?: number;
      /** "replace": --force; "keep": --if-missing; "refuse": neither (a non-empty `out` is an error). */
      existing: "replace" | "keep" | "refuse";
    };

/** Options that take a value. */
const VALUED = new Set(["--preset", "--out", "--dtype", "--tokenizer", "--seed"]);
const FLAGS = new Set(["--external-data", "--force", "--if-missing", "--help", "-h"]);

export function parseCliArgs(argv: string[]): CliRequest {
  let preset: string = "tiny-gpt2";
  let out: string | undefined;
  let dtypes: BuildDtype[] | undefined;
  let tokenizer: string | undefined;
  let seed: number | undefined;
  let externalData = false;
  let force = false;
  let ifMissing = false;
  for (let i = 0; i < argv.length; i++) {
    // --name=value is accepted as well as --name value.
    const [name, inline] = argv[i].startsWith("--") && argv[i].includes("=") ? [argv[i].slice(0, argv[i].indexOf("=")), argv[i].slice(argv[i].indexOf("=") + 1)] : [argv[i], undefined];
    if (FLAGS.has(name)) {
      if (inline !== undefined) throw new UsageError(`${name} takes no value`);
      if (name === "--help" || name === "-h") return { kind: "help" };
      if (name === "--external-data") externalData = true;
      if (name === "--force") force = true;
      if (name === "--if-missing") ifMissing = true;
      continue;
    }
    if (!VALUED.has(name)) throw new UsageError(`unknown argument "${argv[i]}"`);
    const value = inline ?? argv[++i];
    if (value === undefined || value === "" || (inline === undefined && value.startsWith("--"))) throw new UsageError(`${name} needs a value`);
    if (name === "--preset") preset = value;
    else if (name === "--out") out = value;
    else if (name === "--tokenizer") tokenizer = value;
    else if (name === "--seed") seed = parseSeed(value);
    else dtypes = [...(dtypes ?? []), ...parseDtypes(value)];
  }
  if (!(preset in MODEL_PRESETS)) throw new UsageError(`unknown preset "${preset}"; presets: ${Object.keys(MODEL_PRESETS).join(", ")}`);
  if (out === undefined) throw new UsageError("--out <dir> is required: the folder to write the model to");
  if (force && ifMissing) throw new UsageError("--force and --if-missing contradict each other: choose one");
  return {
    kind: "build",
    preset: preset as ModelPreset,
    out,
    dtypes: dtypes && [...new Set(dtypes)],
    externalData,
    tokenizer,
    seed,
    existing: force ? "replace" : ifMissing ? "keep" : "refuse",
  };
}

function parseDtypes(value: string): BuildDtype[] {
  return value.split(",").map((dtype) => {
    const name = dtype.trim();
    if (!(BUILD_DTYPES as readonly string[]).includes(name)) throw new UsageError(`unknown dtype "${name}"; dtypes: ${BUILD_DTYPES.join(", ")}`);
    return name as BuildDtype;
  });
}

function parseSeed(value: string): number {
  const seed = Number(value);
  // The weights' generator takes 32 bits of it: larger seeds would repeat smaller ones' weights.
  if (!/^\d+$/.test(value) || seed > 0xffffffff) throw new UsageError(`--seed must be a whole number from 0 to 4294967295, not "${value}"`);
  return seed;
}
