/** The node's pino logger; tests set MODELNODE_LOG_LEVEL=silent. */
import { pino, type Logger } from "pino";

export function createLogger(level?: string): Logger {
  return pino({
    name: "modelnode",
    level: level ?? process.env.MODELNODE_LOG_LEVEL ?? "info",
    // Never log credentials, whatever a caller passes in.
    redact: { paths: ["license_key", "*.license_key", "license_hash", "*.license_hash", "header.license_hash"], censor: "[redacted]" },
  });
}
