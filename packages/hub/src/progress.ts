/**
 * What the CLI shows while pulling, on stderr: at a terminal one line redrawn in place (a bar, bytes,
 * speed, the file), elsewhere (CI, a pipe, a log) a plain line per file begun and ended.
 */
import type { PullProgress } from "./pull.js";

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** A progress listener for pullModel's onProgress, and `finish` to end the terminal line. */
export function progressReporter(stream: ProgressStream, now: () => number = Date.now): { onProgress: (event: PullProgress) => void; finish: () => void } {
  let total = 0;
  let done = 0;
  let current = "";
  /** Bytes of the current file counted so far (kept ones included). */
  let received = 0;
  let startedAt = now();
  let drawnAt = 0;
  let drawn = false;
  const tty = Boolean(stream.isTTY);

  const draw = (force: boolean) => {
    const t = now();
    if (!force && t - drawnAt < 100) return; // at most ten redraws a second
    drawnAt = t;
    const width = 24;
    const ratio = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(ratio * width);
    const seconds = Math.max(0.001, (t - startedAt) / 1000);
    const line = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(done / seconds)}/s ${current}`;
    const columns = stream.columns ?? 80;
    stream.write(`\r${line.length > columns - 1 ? line.slice(0, columns - 1) : line.padEnd(columns - 1)}`);
    drawn = true;
  };

  const onProgress = (event: PullProgress) => {
    switch (event.type) {
      case "plan": {
        total = event.bytesToFetch;
        startedAt = now();
        const cached = event.files.filter((f) => f.cached).length;
        const fetch = event.files.length - cached;
        stream.write(
          `${event.id} (${event.dtype}, revision ${event.revision.slice(0, 12)}): ${fetch} file${fetch === 1 ? "" : "s"} to fetch (${formatBytes(total)})` +
            `${cached > 0 ? `, ${cached} already here` : ""}\n`,
        );
        break;
      }
      case "file-start":
        current = event.path;
        received = event.resumedFrom;
        // Bytes already in a partial file count as done: the bar shows what is left.
        done += event.resumedFrom;
        if (tty) draw(true);
        else stream.write(`fetching ${event.path} (${formatBytes(event.size)}${event.resumedFrom > 0 ? `, resuming at ${formatBytes(event.resumedFrom)}` : ""})\n`);
        break;
      case "bytes":
        done += event.bytes;
        received += event.bytes;
        if (tty) draw(false);
        break;
      case "retry":
        // What the broken attempt wrote and what is kept may differ: count what is on disk.
        done -= received - event.at;
        received = event.at;
        if (tty) stream.write("\n");
        stream.write(`${event.path}: the download broke off at ${formatBytes(event.at)} (${event.reason}); continuing from there\n`);
        break;
      case "file-done":
        if (tty) draw(true);
        else stream.write(`verified ${event.path}\n`);
        break;
    }
  };
  return {
    onProgress,
    finish: () => {
      if (tty && drawn) stream.write("\n");
      drawn = false;
    },
  };
}
