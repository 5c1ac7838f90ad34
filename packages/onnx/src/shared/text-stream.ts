/**
 * Generated token ids → text pieces, correct across tokens that split a UTF-8 character.
 *
 * Streaming text for byte-level BPE tokenizers (GPT-2 and its many descendants): each token maps
 * to a fixed byte string, so the text of a stream of tokens is the UTF-8 decoding of their
 * concatenated bytes. A streaming TextDecoder does exactly that, holding back an incomplete
 * character until its last byte arrives — O(1) per token, where the generic incremental decoder
 * re-decodes a window of tokens twice per token. Tokens of whole characters (most of them) skip
 * even that call while nothing is held back: their text is cached per tokenizer. It yields the
 * same text as the tokenizer's decode (skip_special_tokens, no clean-up), which the tests check.
 */
import { IncrementalDecoder } from "./incremental-decoder.js";
import type { TextTokenizer } from "./text-tokenizer.js";
import type { TokenTextStream } from "./token-text-stream.js";

/**
 * Per tokenizer: the text of each token whose bytes are whole, valid UTF-8 on their own (most
 * tokens), or null for a token that holds part of a character (or no bytes). Filled lazily, up
 * to MAX_CACHED_TEXTS tokens: the engine's heap is kept small (see TextTokenizer.decodeOnly), and
 * text uses a few thousand distinct tokens.
 */
const MAX_CACHED_TEXTS = 8192;
const WHOLE_TOKEN_TEXT = new WeakMap<TextTokenizer, Map<number, string | null>>();
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function wholeTokenTexts(tokenizer: TextTokenizer): Map<number, string | null> {
  let texts = WHOLE_TOKEN_TEXT.get(tokenizer);
  if (!texts) WHOLE_TOKEN_TEXT.set(tokenizer, (texts = new Map()));
  return texts;
}

export class ByteLevelTextStream implements TokenTextStream {
  private readonly utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  private readonly texts: Map<number, string | null>;
  /**
   * Whether the streaming decoder holds no bytes of an unfinished character. It is known to be
   * empty at the start, after a flush, and after it decoded a token of whole characters (a
   * non-empty valid UTF-8 sequence starts with a lead byte, which ends any unfinished one).
   */
  private empty = true;

  constructor(private readonly tokenizer: TextTokenizer) {
    this.texts = wholeTokenTexts(tokenizer);
  }

  push(id: number): string {
    const added = this.tokenizer.addedToken(id);
    if (added) {
      // Special tokens are skipped; other added tokens are literal text that ends a byte run.
      if (added.special) return "";
      this.empty = true;
      return this.utf8.decode() + added.content;
    }
    // A token of whole characters with nothing pending is its own text: no decoder call. Per
    // token, what costs here is native calls and code that the model run left cold, not bytes.
    const whole = this.wholeText(id);
    if (whole !== null && this.empty) return whole;
    const text = this.utf8.decode(this.tokenizer.tokenBytes(id), { stream: true });
    this.empty = whole !== null;
    return text;
  }

  flush(): string {
    this.empty = true;
    return this.utf8.decode();
  }

  private wholeText(id: number): string | null {
    let text = this.texts.get(id);
    if (text === undefined) {
      const bytes = this.tokenizer.tokenBytes(id);
      try {
        text = bytes.length > 0 ? STRICT_UTF8.decode(bytes) : null;
      } catch {
        text = null; // part of a character, or bytes that are not UTF-8
      }
      if (this.texts.size < MAX_CACHED_TEXTS) this.texts.set(id, text);
    }
    return text;
  }
}

/** The fast byte-level stream when the tokenizer allows it, else the generic incremental decoder. */
export function createTextStream(tokenizer: TextTokenizer, promptIds: readonly number[]): TokenTextStream {
  return tokenizer.byteLevel ? new ByteLevelTextStream(tokenizer) : new IncrementalDecoder(tokenizer, promptIds);
}
