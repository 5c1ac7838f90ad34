// The example model node: heartbeat + auth + legacy + inference plugins on the ONNX pipeline.
export { createModelNode, type ModelNodeRuntime } from "./model-node.js";
export {
  BUNDLED_MODEL_DIR,
  DEFAULT_MODEL_ID,
  modelNodeConfigSchema,
  type ModelNodeConfig,
  type ModelNodeConfigInput,
} from "./config.js";
export { ConfigError } from "./config-error.js";
export { loadConfig, USAGE, type ConfigSources, type LoadedConfig } from "./load-config.js";
