/**
 * Ollama's `keep_alive` as the pipeline takes it (`GenerateRequest.keepAliveMs`): a number is
 * seconds, a text a Go duration ("5m", "1h30m", "-1s", "0"); negative keeps the model loaded, 0
 * unloads it right after the request. Only a pipeline that loads models on demand acts on it
 * (docs/models.md).
 */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `{ keepAliveMs }` for the request, or nothing when `keep_alive` is absent (the node's default applies). */
export function keepAliveOf(value: number | string | null | undefined): { keepAliveMs?: number } {
  if (value === undefined || value === null) return {};
  if (typeof value === "number") return Number.isFinite(value) ? { keepAliveMs: Math.round(value * 1000) } : {};
  const sign = value.startsWith("-") ? -1 : 1;
  let ms = 0;
  for (const [, amount, unit] of value.replace(/^[-+]/, "").matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ms += Number(amount) * UNIT_MS[unit];
  return { keepAliveMs: sign * Math.round(ms) };
}
