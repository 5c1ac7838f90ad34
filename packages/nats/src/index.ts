// @modelnode/nats: scale-out over NATS (docs/scale-out.md).
export { startWorker, type ModelWorker, type WorkerOptions, type MinimalLogger } from "./worker.js";
export { natsPipeline, NatsPipeline, type NatsPipelineOptions } from "./gateway.js";
export { DEFAULT_PREFIX, QUEUE_GROUP, modelToken, subjects, type Heartbeat } from "./protocol.js";
export { connectNats, redactServers, type NatsAuth, type NatsTls, type NatsConnectOptions } from "./connect-options.js";
