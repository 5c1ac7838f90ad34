/**
 * CLI for the bundled tiny model (run by the repo build):
 *   node packages/onnx/dist/scripts/build-tiny-model.js --out <dir> [--if-missing]
 * The builder itself lives in src/tiny-model so tests and other packages can call it.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { buildTinyModel } from "../src/tiny-model/build.js";

export { buildTinyModel, isTinyModelCurrent, TINY_MODEL_BUILDER_VERSION } from "../src/tiny-model/build.js";

function main(argv: string[]): void {
  let out: string | undefined;
  let ifMissing = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out") out = argv[++i];
    else if (argv[i] === "--if-missing") ifMissing = true;
    else throw new Error(`unknown argument "${argv[i]}"; usage: build-tiny-model --out <dir> [--if-missing]`);
  }
  if (!out) throw new Error("usage: build-tiny-model --out <dir> [--if-missing]");
  const started = performance.now();
  const { built, dir } = buildTinyModel({ out: resolve(out), ifMissing });
  if (built) console.error(`[modelnode] built tiny model in ${dir} (${Math.round(performance.now() - started)} ms)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`build-tiny-model: ${(error as Error).message}`);
    process.exit(1);
  }
}
