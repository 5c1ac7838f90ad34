// The CLI's logs (src/log.ts): the format choice, the stdout sink that cannot hang on a reader
// that left, JSON and pretty lines (what is logged per request: request-log.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readSync, rmdirSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../src/config-error.js";
import { chooseLogFormat, createCliLogger, FdLineSink, type LineSink } from "../src/log.js";

class Lines implements LineSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
}

/** A named pipe opened at both ends (reader first, non-blocking), removed afterwards. */
function fifo(): { reader: number; writer: number; closeReader(): void; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), "modelnode-log-"));
  const path = join(dir, "pipe");
  execFileSync("mkfifo", [path]);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  let readerOpen = true;
  return {
    reader,
    writer,
    closeReader() {
      closeSync(reader);
      readerOpen = false;
    },
    dispose() {
      // Each descriptor closed once: a number closed twice may by then be someone else's.
      if (readerOpen) closeSync(reader);
      closeSync(writer);
      unlinkSync(path);
      rmdirSync(dir);
    },
  };
}

test("the format: pretty at a terminal, JSON lines elsewhere; MODELNODE_LOG_FORMAT overrides; anything else is a config error", () => {
  assert.equal(chooseLogFormat({}, true), "pretty");
  assert.equal(chooseLogFormat({}, false), "json");
  assert.equal(chooseLogFormat({ MODELNODE_LOG_FORMAT: "json" }, true), "json");
  assert.equal(chooseLogFormat({ MODELNODE_LOG_FORMAT: "pretty" }, false), "pretty");
  assert.equal(chooseLogFormat({ MODELNODE_LOG_FORMAT: " " }, false), "json");
  assert.throws(
    () => chooseLogFormat({ MODELNODE_LOG_FORMAT: "xml" }, false),
    (error: Error) => error instanceof ConfigError && error.message === "config error: MODELNODE_LOG_FORMAT: expected json or pretty",
  );
});

test("FdLineSink writes each line at once; when the reader has gone (EPIPE) it stops at once, never throws and never retries", () => {
  const pipe = fifo();
  try {
    const sink = new FdLineSink(pipe.writer);
    sink.write("first line\n");
    const buffer = Buffer.alloc(64);
    assert.equal(buffer.toString("utf8", 0, readSync(pipe.reader, buffer)), "first line\n");

    pipe.closeReader(); // the reader leaves (`| tee` exited)
    const started = performance.now();
    sink.write("nobody reads this\n");
    sink.write("nor this\n");
    assert.ok(performance.now() - started < 50, "no waiting, no retry loop");
    assert.equal(sink.failure?.code, "EPIPE");
    assert.equal(sink.dropped, 2);

    // The line process-handlers.ts writes on an uncaught exception: pino flushes its destination
    // after every fatal line, which with pino's default destination looped for ever on EPIPE.
    const logger = createCliLogger({ level: "info", format: "json", sink });
    const fatalAt = performance.now();
    logger.fatal({ err: new Error("write EPIPE") }, "uncaught exception; closing the node and exiting");
    assert.ok(performance.now() - fatalAt < 50);
    assert.equal(sink.dropped, 3);
  } finally {
    pipe.dispose();
  }
});

test("FdLineSink: a reader that stops reading (a full pipe, EAGAIN) costs a line after maxWaitMs, not the process", () => {
  const pipe = fifo();
  try {
    const sink = new FdLineSink(pipe.writer, 50);
    const line = `${"x".repeat(4095)}\n`;
    // Fill the pipe's buffer (64 KiB on Linux), then one more line must give up.
    let written = 0;
    while (sink.dropped === 0 && written < 1024) {
      sink.write(line);
      written++;
    }
    assert.equal(sink.dropped, 1, "the line that did not fit was dropped");
    assert.equal(sink.failure, undefined, "the sink stays open: the reader may read again");
    // While the reader does not keep up, later lines are dropped without waiting.
    const congestedAt = performance.now();
    for (let i = 0; i < 10; i++) sink.write(line);
    assert.ok(performance.now() - congestedAt < 40, "no wait per line while congested");
    assert.equal(sink.dropped, 11);
    // The reader reads again: lines go through again, each whole.
    const buffer = Buffer.alloc(1 << 20);
    let read = readSync(pipe.reader, buffer);
    sink.write("after\n");
    assert.equal(sink.dropped, 11);
    let text = buffer.toString("utf8", 0, read);
    for (;;) {
      try {
        const more = readSync(pipe.reader, buffer);
        if (more === 0) break;
        text += buffer.toString("utf8", 0, more);
        read += more;
      } catch {
        break; // EAGAIN: all read
      }
    }
    const lines = text.split("\n").filter(Boolean);
    assert.equal(lines.at(-1), "after");
    for (const whole of lines.slice(0, -1)) assert.equal(whole.length, 4095, "no line cut short");
  } finally {
    pipe.dispose();
  }
});

test("createCliLogger: JSON lines, or one readable line per entry; fatal writes its line once and flushes nothing", () => {
  const json = new Lines();
  const logger = createCliLogger({ level: "info", format: "json", sink: json });
  logger.info({ model: "tiny-gpt2" }, "model loaded");
  logger.debug("not at info");
  logger.fatal({ err: new Error("boom") }, "uncaught exception; closing the node and exiting");
  assert.equal(json.lines.length, 2);
  const first = JSON.parse(json.lines[0]);
  assert.deepEqual({ level: first.level, name: first.name, msg: first.msg, model: first.model }, { level: 30, name: "modelnode", msg: "model loaded", model: "tiny-gpt2" });
  assert.equal(JSON.parse(json.lines[1]).level, 60);

  const pretty = new Lines();
  const people = createCliLogger({ level: "info", format: "pretty", sink: pretty, colorize: false });
  people.child({ plugin: "request-log" }).info({ type: "heartbeat", outcome: "ok", ms: 0.4 }, "request done");
  assert.equal(pretty.lines.length, 1);
  assert.match(pretty.lines[0], /^\[\d\d:\d\d:\d\d\.\d\d\d\] INFO \(modelnode\): request done \{.*"type":"heartbeat".*"outcome":"ok".*\}\n$/);
  assert.doesNotMatch(pretty.lines[0], /"pid"|"hostname"/);
});
