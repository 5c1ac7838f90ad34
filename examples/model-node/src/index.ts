// The example model node: heartbeat + auth + legacy + inference plugins on the ONNX pipeline,
// plus the plugins listed in extra-plugins.ts.
export { createModelNode, startModelNode, type ModelNodeRuntime } from "./model-node.js";
export { extraPlugins } from "./extra-plugins.js";
export { isPluginEntry, pluginEntry, type ExtraPlugin, type PluginEntry } from "./plugin-entry.js";
export {
  BUNDLED_MODEL_DIR,
  configSchemaFor,
  DEFAULT_MODEL_ID,
  modelNodeConfigSchema,
  type ModelNodeConfig,
  type ModelNodeConfigInput,
} from "./config.js";
export { ConfigError } from "./config-error.js";
export { loadConfig, USAGE, type ConfigSources, type LoadedConfig } from "./load-config.js";
