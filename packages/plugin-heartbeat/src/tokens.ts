/** DI token of the plugin's monitor (one per node), for other plugins that want the same report. */
import type { InjectionToken } from "@modelnode/core";
import type { HeartbeatMonitor } from "./monitor.js";

export const HEARTBEAT_MONITOR: InjectionToken<HeartbeatMonitor> = Symbol.for("modelnode.heartbeat.monitor");
