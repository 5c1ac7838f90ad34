/** What turns generated token ids into text, piece by piece (its two kinds: text-stream.ts, incremental-decoder.ts). */
export interface TokenTextStream {
  /** Adds a token; returns the text it completes (possibly ""). */
  push(id: number): string;
  /** Text still held back, once generation ends (U+FFFD for bytes that never formed a character). */
  flush(): string;
}
