// @modelnode/nats: scale-out over NATS (docs/scale-out.md).
export { startWorker, type ModelWorker, type WorkerOptions, type MinimalLogger } from "./worker.js";
export { natsPipeline, NatsPipeline, type NatsPipelineOptions, type SessionStoreOptions } from "./gateway.js";
export { JETSTREAM_STORE_DEFAULTS, JetStreamSessionStore, type JetStreamSessionStoreOptions } from "./jetstream-session-store.js";
export { MemorySessionStore, SessionConflict, type SessionRecord, type SessionStore, type StoredSession } from "./session-store.js";
export { DEFAULT_PREFIX, QUEUE_GROUP, modelToken, subjects, type Heartbeat } from "./protocol.js";
export { connectNats, redactServers, type NatsAuth, type NatsTls, type NatsConnectOptions } from "./connect-options.js";
