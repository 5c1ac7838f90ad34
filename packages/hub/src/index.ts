/**
 * @modelnode/hub: pulls ONNX models (transformers.js layout) from the Hugging Face Hub into a
 * local models folder, one dtype at a time, resumable and checked. See README.md and
 * docs/models.md ("Pulling from the Hub").
 */
export { pullModel, pulledModelDir, isOfflineEnv, DEFAULT_HUB_URL, type PullModelOptions, type PullProgress, type PullResult } from "./pull.js";
export { HubPullError, type HubPullErrorCode } from "./errors.js";
export { parseModelRef, type ModelRef } from "./model-ref.js";
export { DTYPE_SUFFIXES, PULL_DTYPES, SUPPORT_FILES, graphCandidates, selectDtypeFiles, type PullDtype } from "./dtype-files.js";
export { MANIFEST_FILE } from "./manifest.js";
export { runPullCli } from "./cli.js";
