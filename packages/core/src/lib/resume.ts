/**
 * What a generation resumed elsewhere starts from (GenerateRequest.resume): kept apart from
 * pipeline.ts so that the contract file stays readable.
 */

/** See `GenerateRequest.resume`. */
export interface ResumeFrom {
  generatedIds: number[];
  deliveredChars: number;
  /**
   * Opaque: the sampler's state right after the last of `generatedIds`, as a text event's
   * `samplerState` gave it. A pipeline that has it continues a seeded sampling exactly; without
   * it, a sampling generation continues from the seed as if restarted (greedy is exact anyway).
   */
  samplerState?: string;
}
