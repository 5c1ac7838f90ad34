/** Request counters. Names on the wire follow the guide's get_stats(): snake_case. */
import type { Protocol } from "./context.js";

export interface NodeStats {
  total_requests: number;
  legacy_requests: number;
  protocol_requests: number;
  /** protocol_requests / total_requests × 100, rounded to 2 decimals; 0 with no requests. */
  protocol_percentage: number;
  requests_by_type: Record<string, number>;
  errors_by_code: Record<string, number>;
  /** Frames that were not a recognisable message at all (bad JSON, not an object, neither format). */
  invalid_messages: number;
  /** Requests to plugins' HTTP routes (not in total_requests, which counts WebSocket messages). */
  http_requests: number;
  active_connections: number;
  total_connections: number;
  in_flight: number;
  uptime_seconds: number;
}

export class StatsCollector {
  private legacy = 0;
  private protocol = 0;
  private invalid = 0;
  private http = 0;
  private totalConnections = 0;
  private readonly byType = new Map<string, number>();
  private readonly byCode = new Map<string, number>();
  private readonly startedAt = Date.now();
  activeConnections = 0;
  inFlight = 0;

  recordRequest(protocol: Protocol, type: string): void {
    if (protocol === "legacy") this.legacy++;
    else if (protocol === "http") this.http++;
    else this.protocol++;
    this.byType.set(type, (this.byType.get(type) ?? 0) + 1);
  }

  /**
   * A standard message whose header failed validation or named a type nobody serves: a
   * protocol request (the guide's percentage counts it), but not under any type in
   * requests_by_type (which lists served types only); its error code is in errors_by_code.
   */
  recordUnroutable(): void {
    this.protocol++;
  }

  recordInvalid(): void {
    this.invalid++;
  }

  recordError(code: string): void {
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
  }

  connectionOpened(): void {
    this.activeConnections++;
    this.totalConnections++;
  }

  connectionClosed(): void {
    this.activeConnections--;
  }

  snapshot(): NodeStats {
    const total = this.legacy + this.protocol;
    return {
      total_requests: total,
      legacy_requests: this.legacy,
      protocol_requests: this.protocol,
      protocol_percentage: protocolPercentage(this.protocol, total),
      requests_by_type: Object.fromEntries(this.byType),
      errors_by_code: Object.fromEntries(this.byCode),
      invalid_messages: this.invalid,
      http_requests: this.http,
      active_connections: this.activeConnections,
      total_connections: this.totalConnections,
      in_flight: this.inFlight,
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
    };
  }
}

export function protocolPercentage(protocol: number, total: number): number {
  return total === 0 ? 0 : Math.round((protocol / total) * 10000) / 100;
}
