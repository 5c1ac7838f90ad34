/** The logging the pipeline does: pino-compatible (pino's logger satisfies it), no dependency on pino. */
export interface PipelineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

const ignore = (): void => {};
export const silentLogger: PipelineLogger = { info: ignore, warn: ignore, error: ignore, debug: ignore };
