/** What a remote stream and a step session each use of their gateway: its id, link, routing and counters. */
import type { GatewayLink } from "./gateway-link.js";
import type { GatewayCounters } from "./gateway-options.js";
import type { MinimalLogger } from "./logger.js";
import type { RetryPolicy, WorkerPicker } from "./routing.js";

export interface GatewayParts {
  gatewayId: string;
  link: GatewayLink;
  picker: WorkerPicker;
  retry: RetryPolicy;
  counters: GatewayCounters;
  log: MinimalLogger;
}
