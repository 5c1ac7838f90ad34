/**
 * Generated token ids → text pieces, correct across tokens that split a UTF-8 character.
 *
 * Streaming text for byte-level BPE tokenizers (GPT-2 and its many descendants): each token maps
 * to a fixed byte string, so the text of a stream of tokens is the UTF-8 decoding of their
 * concatenated bytes. A streaming TextDecoder does exactly that, holding back an incomplete
 * character until its last byte arrives — O(1) per token, where the generic incremental decoder
 * re-decodes a window of tokens twice per token. It yields the same text as the tokenizer's
 * decode (skip_special_tokens, no clean-up), which the tests check.
 */
import { IncrementalDecoder } from "./incremental-decoder.js";
import type { TextTokenizer } from "./tokenizer.js";

export interface TokenTextStream {
  /** Adds a token; returns the text it completes (possibly ""). */
  push(id: number): string;
  /** Text still held back, once generation ends (U+FFFD for bytes that never formed a character). */
  flush(): string;
}

/** GPT-2's reversible byte ↔ printable-character table (bytes_to_unicode), inverted. */
const CHAR_TO_BYTE: ReadonlyMap<string, number> = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Map<string, number>();
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const code = printable.includes(b) ? b : 256 + shifted++;
    table.set(String.fromCharCode(code), b);
  }
  return table;
})();

export class ByteLevelTextStream implements TokenTextStream {
  private readonly utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

  constructor(private readonly tokenizer: TextTokenizer) {}

  push(id: number): string {
    const added = this.tokenizer.addedToken(id);
    if (added) {
      // Special tokens are skipped; other added tokens are literal text that ends a byte run.
      return added.special ? "" : this.utf8.decode() + added.content;
    }
    return this.utf8.decode(this.tokenizer.tokenBytes(id, CHAR_TO_BYTE), { stream: true });
  }

  flush(): string {
    return this.utf8.decode();
  }
}

/** The fast byte-level stream when the tokenizer allows it, else the generic incremental decoder. */
export function createTextStream(tokenizer: TextTokenizer, promptIds: readonly number[]): TokenTextStream {
  return tokenizer.byteLevel ? new ByteLevelTextStream(tokenizer) : new IncrementalDecoder(tokenizer, promptIds);
}
