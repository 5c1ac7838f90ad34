/**
 * @modelnode/core/server — composing and running a node: createNode, its options, the pipeline
 * binding, the signal helper, and what startup errors are made of.
 */
import "reflect-metadata";

export { createNode, ModelNode, startNode, type StatsSource } from "./lib/node.js";
export {
  DEFAULT_LIMITS,
  DEFAULT_PORT,
  nodeLimitsSchema,
  nodeOptionsSchema,
  NodeOptionsError,
  type NodeLimits,
  type NodeOptions,
  type ResolvedNodeOptions,
  type TlsOptions,
} from "./lib/options.js";
export { pipelinePlugin, type PipelineSource } from "./lib/pipeline-plugin.js";
export { closeOnSignals, type Closable, type CloseOnSignalsOptions } from "./lib/signals.js";
export { HandlerRegistry, RegistryError, type RegisteredHandler } from "./lib/registry.js";
export { protocolPercentage, type NodeStats } from "./lib/stats.js";
export { CORE_VERSION, loadedCoreCopies, type CoreCopy } from "./lib/core-identity.js";
export { asyncApiDocument, type AsyncApiDocument, type AsyncApiOptions } from "./lib/asyncapi.js";
