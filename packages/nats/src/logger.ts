/** The logging both sides need: pino's shape, so a node's logger fits; silent by default. */
export interface MinimalLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: MinimalLogger = { info() {}, warn() {}, error() {} };
