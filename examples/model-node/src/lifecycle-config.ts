/**
 * The models directory's lifecycle settings (docs/models.md, "Lifecycle"): durations as Ollama
 * writes `keep_alive` ("5m", "1h30m", "30s", "500ms"; a bare number is seconds, "-1" keeps
 * models forever, "0" unloads right after each request) or a number of ms in a config file;
 * sizes as "8GiB", "512MB", "2G" or a number of bytes.
 */
import { z } from "@modelnode/core";
import { LIFECYCLE_DEFAULTS } from "@modelnode/onnx";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const UNIT_BYTES: Record<string, number> = { "": 1, b: 1, k: 1e3, kb: 1e3, kib: 2 ** 10, m: 1e6, mb: 1e6, mib: 2 ** 20, g: 1e9, gb: 1e9, gib: 2 ** 30, t: 1e12, tb: 1e12, tib: 2 ** 40 };
const DURATION = 'expected a duration such as "5m", "30s", "1h30m", "-1" (forever) or "0", or a number of ms';
const SIZE = 'expected a size such as "8GiB", "512MB", "2G", or a number of bytes';

/** "5m" → 300000; "-1" → -1 (forever); a bare number in text is seconds (Ollama's reading); undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const sign = trimmed.startsWith("-") ? -1 : 1;
  const body = trimmed.replace(/^[-+]/, "");
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(body)) return undefined;
  let ms = 0;
  for (const [, amount, , unit] of body.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) ms += Number(amount) * UNIT_MS[unit];
  return sign * Math.round(ms);
}

/** "8GiB" → 8589934592; undefined when not a size. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? UNIT_BYTES[match[3].toLowerCase()] : undefined;
  return match && unit !== undefined ? Math.round(Number(match[1]) * unit) : undefined;
}

/** The most a keep-alive may be (setTimeout's longest delay, ~24.8 days); "-1" is for longer. */
const MAX_KEEP_ALIVE_MS = 2 ** 31 - 1;

/** A duration in ms; `forever`: a negative one is allowed, and read as -1 (never). */
export const duration = (min: number, forever: boolean) =>
  z.union([z.int(), z.string()], { error: DURATION }).transform((value, ctx) => {
    const ms = typeof value === "number" ? value : parseDuration(value);
    if (forever && ms !== undefined && ms < 0) return -1;
    if (ms === undefined || ms < min || ms > MAX_KEEP_ALIVE_MS) {
      ctx.addIssue({ code: "custom", message: ms === undefined ? DURATION : `expected a duration from ${min} ms to ${MAX_KEEP_ALIVE_MS} ms${forever ? ", or negative (forever)" : ""}` });
      return z.NEVER;
    }
    return ms;
  });

const size = z.union([z.int().min(1), z.string()], { error: SIZE }).transform((value, ctx) => {
  const bytes = typeof value === "number" ? value : parseSize(value);
  if (bytes === undefined || bytes < 1) {
    ctx.addIssue({ code: "custom", message: SIZE });
    return z.NEVER;
  }
  return bytes;
});

/** `modelLifecycle` in the config (flags --keep-alive, --max-loaded-models, --models-memory-budget, --model-load-timeout). */
export const lifecycleConfigSchema = z.strictObject({
  /** Idle time before a directory model is unloaded (negative: never; 0: right after each request). Default 5m. */
  keepAlive: duration(0, true).default(LIFECYCLE_DEFAULTS.keepAliveMs),
  /** Directory models loaded at once, at most (explicit --model models not counted). Default 3. */
  maxLoadedModels: z.int({ error: "expected integer ≥ 1" }).min(1, { error: "expected integer ≥ 1" }).default(LIFECYCLE_DEFAULTS.maxLoadedModels),
  /** Memory the loaded directory models may take together (estimated from their graph files). Default: half the machine's memory. */
  memoryBudget: size.default(LIFECYCLE_DEFAULTS.memoryBudgetBytes),
  /** How long a request waits for its model to load before failing with BUSY. Default 2m. */
  loadTimeout: duration(1, false).default(LIFECYCLE_DEFAULTS.loadTimeoutMs),
});
