/**
 * The CLI's logs: readable at a terminal, JSON lines for machines (what is logged per request:
 * request-log.ts), and a destination that can never stop the process from exiting.
 *
 * - Format: pretty (pino-pretty, formatted in the main thread, one line per entry) when stdout is
 *   a terminal, JSON lines otherwise; `MODELNODE_LOG_FORMAT=json|pretty` overrides.
 * - Destination: every line is written to stdout synchronously, at once (nothing is buffered, so
 *   nothing is lost when the process exits and there is nothing to flush). When the reader goes
 *   away (EPIPE: `| tee` or `| head` exited) or stdout fails in any other way, logging stops and the
 *   node goes on; a reader that does not read for a second loses lines (counted) until it reads again.
 *
 * Why not pino's default destination: it buffers (sonic-boom, asynchronously) and flushes with
 * sonic-boom's `flushSync()` on every `fatal` line and at exit, and sonic-boom 4's `flushSync()`
 * retries a failed write every 100 ms *for ever* — EPIPE included. After a reader left, one
 * `fatal` line (the uncaught-exception handler's) or an exit with a line still buffered held the
 * main thread in that loop: the node had stopped listening, never exited, and could not even run
 * a second signal's handler (see docs/operations.md, "Logs").
 */
import { realpathSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { isatty } from "node:tty";
import type { Logger } from "@modelnode/core";
import { isColorSupported, prettyFactory } from "pino-pretty";
import { ConfigError } from "./config-error.js";

export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** MODELNODE_LOG_FORMAT when set (ConfigError for anything else); otherwise pretty at a terminal, JSON elsewhere. */
export function chooseLogFormat(env: NodeJS.ProcessEnv = process.env, stdoutIsTerminal = isatty(1)): LogFormat {
  const asked = env.MODELNODE_LOG_FORMAT?.trim();
  if (asked) {
    if ((LOG_FORMATS as readonly string[]).includes(asked)) return asked as LogFormat;
    throw new ConfigError(`MODELNODE_LOG_FORMAT: expected ${LOG_FORMATS.join(" or ")}`);
  }
  return stdoutIsTerminal ? "pretty" : "json";
}

/** Where log lines go: anything with a synchronous `write(line)`. */
export interface LineSink {
  write(line: string): void;
}

/**
 * Writes each line to a file descriptor at once, synchronously, and never throws and never loops
 * for ever: a full pipe (EAGAIN, the reader is slow) is retried for up to `maxWaitMs`, then the line
 * is dropped and, until the reader takes a line again, later lines are dropped at once (the node
 * does not wait a second per line for a stalled reader); any other error (EPIPE: the reader left)
 * closes the sink for good and every later line is dropped.
 */
export class FdLineSink implements LineSink {
  /** Lines not written (the reader was gone, or did not keep up). */
  dropped = 0;
  /** Set once the descriptor failed; nothing is written afterwards. */
  failure: NodeJS.ErrnoException | undefined;
  /** A line was dropped for a full pipe, and nothing has been written since. */
  private congested = false;
  /** The last line was cut short: the next one starts on a new line. */
  private partial = false;

  constructor(
    readonly fd = 1,
    private readonly maxWaitMs = 1000,
  ) {}

  write(line: string): void {
    if (this.failure) {
      this.dropped++;
      return;
    }
    let data = Buffer.from(this.partial ? `\n${line}` : line, "utf8");
    let started = false;
    let waited = 0;
    while (data.length > 0) {
      try {
        data = data.subarray(writeSync(this.fd, data));
        started = true;
        this.congested = false;
        this.partial = false;
      } catch (error) {
        const err = error as NodeJS.ErrnoException;
        if (err.code !== "EAGAIN" && err.code !== "EBUSY") {
          this.failure = err;
          this.dropped++;
          return;
        }
        // A line already begun is worth finishing; a new one waits only while the reader keeps up.
        if (waited < (this.congested && !started ? 0 : this.maxWaitMs)) {
          pause(10);
          waited += 10;
          continue;
        }
        this.congested = true;
        this.partial = started;
        this.dropped++;
        return;
      }
    }
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function pause(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Formats pino's JSON lines for people (one line per entry, local time) before they reach `sink`. */
export function prettySink(sink: LineSink, colorize = isColorSupported): LineSink {
  const pretty = prettyFactory({ colorize, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname", singleLine: true });
  return {
    write(line: string) {
      let text: string;
      try {
        text = pretty(line);
      } catch {
        text = line; // never lose a line to the formatter
      }
      sink.write(text);
    },
  };
}

export interface CliLoggerOptions {
  level: string;
  format: LogFormat;
  /** Default: stdout, through FdLineSink. */
  sink?: LineSink;
  /** Colors in pretty output. Default: when the terminal supports them (NO_COLOR, FORCE_COLOR respected). */
  colorize?: boolean;
}

/** The CLI's logger: pino (the copy core uses), at `level`, JSON or pretty, written by a sink that cannot hang. */
export function createCliLogger({ level, format, sink = new FdLineSink(1), colorize }: CliLoggerOptions): Logger {
  const destination = format === "pretty" ? prettySink(sink, colorize ?? (isColorSupported && isatty(1))) : sink;
  // No flushSync on the destination: pino calls it after each fatal line, and there is nothing to flush.
  return loadPino()({ name: "modelnode", level }, { write: (line: string) => destination.write(line) });
}

type PinoFactory = (options: { name: string; level: string }, destination: LineSink) => Logger;

/**
 * pino itself, the very copy @modelnode/core depends on (this package does not list pino: core
 * owns the logger type, and one copy of pino keeps `Logger` the same type everywhere).
 */
function loadPino(): PinoFactory {
  const requireHere = createRequire(import.meta.url);
  // Real paths: pino's own dependencies are found next to its real location (pnpm's store).
  const core = realpathSync(requireHere.resolve("@modelnode/core"));
  const pino = realpathSync(createRequire(core).resolve("pino"));
  return (requireHere(pino) as { pino: PinoFactory }).pino;
}
