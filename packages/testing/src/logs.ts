/** A pino logger whose lines land in memory, for tests that look at what the node logs. */
import { Writable } from "node:stream";
import { pino } from "pino";
import type { Logger } from "@modelnode/core";

export interface LogLine {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

export class LogCapture {
  /** Raw lines, as the logger wrote them (one JSON object each). */
  readonly lines: string[] = [];
  readonly logger: Logger;

  constructor(level = "info") {
    const sink = new Writable({
      write: (chunk, _encoding, done) => {
        for (const line of String(chunk).split("\n")) if (line) this.lines.push(line);
        done();
      },
    });
    this.logger = pino({ name: "modelnode", level }, sink);
  }

  get parsed(): LogLine[] {
    return this.lines.map((line) => JSON.parse(line) as LogLine);
  }

  /** Lines whose msg matches. */
  matching(msg: RegExp): LogLine[] {
    return this.parsed.filter((line) => typeof line.msg === "string" && msg.test(line.msg));
  }

  get longestLine(): number {
    return this.lines.reduce((max, line) => Math.max(max, Buffer.byteLength(line)), 0);
  }
}
