/** The node's pino logger; tests set MODELNODE_LOG_LEVEL=silent. */
import { pino, type Logger } from "pino";

// Never log credentials, whatever a caller passes in.
const REDACT = {
  paths: ["license_key", "*.license_key", "license_hash", "*.license_hash", "header.license_hash"],
  censor: "[redacted]",
};

export function createLogger(level?: string): Logger {
  return pino({ name: "modelnode", level: level ?? process.env.MODELNODE_LOG_LEVEL ?? "info", redact: REDACT });
}

/** A caller's own logger, with the node's redaction added (a child: the caller's logger is unchanged). */
export function withRedaction(logger: Logger): Logger {
  return logger.child({}, { redact: REDACT });
}
