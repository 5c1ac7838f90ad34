/**
 * The `speculative` option of createOnnxPipeline (speculative decoding by prompt lookup; see
 * docs/engine.md), checked and with its defaults filled in, before anything starts.
 */
import { SPECULATIVE_DEFAULTS, type SpeculativeSettings } from "../messages/speculative.js";

/** What a caller may give: any of the settings (the rest take their defaults). */
export type SpeculativeOptions = Partial<SpeculativeSettings>;

/** Most guesses per run a node may allow: each one widens every run of its batch. */
export const MAX_DRAFT_TOKENS = 16;
/** Longest n-gram matched. */
export const MAX_NGRAM = 16;

export function resolveSpeculative(options: SpeculativeOptions | undefined): SpeculativeSettings {
  if (options !== undefined && (typeof options !== "object" || options === null)) throw new TypeError("createOnnxPipeline: `speculative` must be an object");
  const resolved = { ...SPECULATIVE_DEFAULTS, ...Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined)) } as SpeculativeSettings;
  const where = "createOnnxPipeline: `speculative.";
  if (resolved.method !== "ngram" && resolved.method !== "off") throw new TypeError(`${where}method\` must be "ngram" or "off" (got ${String(resolved.method)})`);
  const range = (key: "maxDraftTokens" | "minNgram" | "maxNgram", max: number) => {
    const value = resolved[key];
    if (!Number.isInteger(value) || value < 1 || value > max) throw new TypeError(`${where}${key}\` must be an integer from 1 to ${max} (got ${String(value)})`);
  };
  range("maxDraftTokens", MAX_DRAFT_TOKENS);
  range("minNgram", MAX_NGRAM);
  range("maxNgram", MAX_NGRAM);
  const { positionCost } = resolved;
  if (positionCost !== undefined && !(typeof positionCost === "number" && positionCost >= 0 && positionCost <= 10)) {
    throw new TypeError(`${where}positionCost\` must be a number from 0 to 10, or absent to measure it (got ${String(positionCost)})`);
  }
  if (resolved.minNgram > resolved.maxNgram) throw new TypeError(`${where}minNgram\` (${resolved.minNgram}) must not exceed \`speculative.maxNgram\` (${resolved.maxNgram})`);
  return { method: resolved.method, maxDraftTokens: resolved.maxDraftTokens, minNgram: resolved.minNgram, maxNgram: resolved.maxNgram, ...(positionCost !== undefined ? { positionCost } : {}) };
}
