/**
 * @modelnode/model-builder — a development tool, not part of the runtime: writes seeded,
 * meaningless GPT-2- and Llama-shaped causal LMs in the Hugging Face ONNX layout, for tests,
 * benchmarks and the bundled model that `npm start` serves. See README.md and docs/models.md.
 */
export {
  buildModel,
  buildTinyModel,
  isModelCurrent,
  isTinyModelCurrent,
  TINY_MODEL_BUILDER_VERSION,
  type BuildModelOptions,
  type BuildTinyModelOptions,
} from "./build.js";
export { moveWeightsToExternalData, VARIANT_FILES, type Variant } from "./variants.js";
export { MODEL_PRESETS, TINY_LLAMA3, type ModelPreset, type ModelSpec, type Gpt2Spec, type LlamaSpec } from "./specs.js";
