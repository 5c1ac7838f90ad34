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
  /** Full stats, plugins' sources included (costs more than load()): what GET /stats answers. */
  getStats(): NodeStats;
}

export const NODE_INFO: InjectionToken<NodeInfo> = Symbol.for("modelnode.node-info");
export const NODE_OPTIONS: InjectionToken<ResolvedNodeOptions> = Symbol.for("modelnode.node-options");
export const LOGGER: InjectionToken<Logger> = Symbol.for("modelnode.logger");

/** What a service token is called in startup errors: its description, with known ones explained. */
export function describeToken(token: InjectionToken<unknown>): string {
  if (typeof token === "symbol") {
    const known = KNOWN_SERVICES[token.description ?? ""];
    return known ?? `the service ${token.description ?? "(an unnamed symbol)"}`;
  }
  if (typeof token === "string") return `the service "${token}"`;
  return `the service ${(token as { name?: string }).name ?? "(anonymous class)"}`;
}

const KNOWN_SERVICES: Record<string, string> = {
  "modelnode.pipeline": "a model pipeline (PIPELINE; compose pipelinePlugin(...) with it)",
};
