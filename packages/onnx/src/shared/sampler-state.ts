/**
 * A sampled stream's sampler state as it travels (GenerationEvent.samplerState, ResumeFrom.samplerState):
 * mulberry32's whole state (shared/random.ts), one uint32, written as 8 lowercase hex digits. The
 * engine thread sends the number; the main thread writes and reads the text.
 */

export function formatSamplerState(state: number): string {
  return (state >>> 0).toString(16).padStart(8, "0");
}

/** The state a `samplerState` text stands for; undefined when it is not one this pipeline wrote. */
export function parseSamplerState(text: unknown): number | undefined {
  if (typeof text !== "string" || !/^[0-9a-f]{8}$/.test(text)) return undefined;
  return Number.parseInt(text, 16);
}
