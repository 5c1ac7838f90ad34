/** DI tokens core registers in every node's container, for plugins to inject. */
import type { InjectionToken } from "tsyringe";
import type { Logger } from "pino";
import type { ResolvedNodeOptions } from "./options.js";
import type { NodeStats } from "./stats.js";

export type NodeStatus = "healthy" | "degraded" | "draining";

/** What a plugin may know about the node it runs in. */
export interface NodeInfo {
  readonly nodeId: string;
  readonly startedAt: Date;
  /** "draining" from the moment close() starts; plugins may report "degraded" themselves. */
  status(): NodeStatus;
  /** Cheap figures for hot paths such as heartbeats. */
  load(): { connections: number; inFlight: number };
  /** Full stats, plugins' sources included (costs more than load()). */
  stats(): NodeStats;
}

export const NODE_INFO: InjectionToken<NodeInfo> = Symbol.for("modelnode.node-info");
export const NODE_OPTIONS: InjectionToken<ResolvedNodeOptions> = Symbol.for("modelnode.node-options");
export const LOGGER: InjectionToken<Logger> = Symbol.for("modelnode.logger");
