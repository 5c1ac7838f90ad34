/**
 * Turns generated token ids into text piece by piece, for any tokenizer, correctly across
 * tokens that split a UTF-8 character (byte-level BPE emits a multibyte character as several
 * tokens, each of which decodes alone to U+FFFD). The method is the one Hugging Face's text-generation-inference uses:
 * decode a short window of recent tokens with and without the newest ones and emit the
 * difference, holding it back while it ends in U+FFFD (an incomplete character). Decoding with a
 * little preceding context also keeps tokenizers that drop a leading space on the first token
 * (SentencePiece) from losing it.
 */
import type { TextTokenizer } from "./text-tokenizer.js";
import type { TokenTextStream } from "./token-text-stream.js";

const REPLACEMENT = "\uFFFD";

export class IncrementalDecoder implements TokenTextStream {
  private readonly ids: number[];
  private prefixOffset = 0;
  private readOffset: number;

  /** `context`: the last few prompt tokens, decoded only as context, never emitted. */
  constructor(
    private readonly tokenizer: TextTokenizer,
    context: readonly number[] = [],
  ) {
    this.ids = context.slice(-5);
    this.readOffset = this.ids.length;
  }

  /** Adds a token; returns the text it completes (possibly ""). */
  push(id: number): string {
    this.ids.push(id);
    const prefixText = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const fullText = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    // Text ending in U+FFFD waits for the rest of its character; bytes that never complete one
    // come out with the next complete character, or at flush.
    if (fullText.length > prefixText.length && !fullText.endsWith(REPLACEMENT)) {
      return this.advance(fullText.slice(prefixText.length));
    }
    return "";
  }

  /** Text still held back (an incomplete character at the end); call once when generation ends. */
  flush(): string {
    if (this.readOffset === this.ids.length) return "";
    const prefixText = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const fullText = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    return this.advance(fullText.length > prefixText.length ? fullText.slice(prefixText.length) : "");
  }

  private advance(text: string): string {
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    // Keep the window short: drop ids that are no longer part of any decode.
    if (this.prefixOffset > 64) {
      this.ids.splice(0, this.prefixOffset);
      this.readOffset -= this.prefixOffset;
      this.prefixOffset = 0;
    }
    return text;
  }
}
