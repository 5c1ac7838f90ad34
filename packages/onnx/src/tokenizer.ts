/**
 * The model's tokenizer: Hugging Face `tokenizers` (tokenizer.json), with the few calling
 * conventions the pipeline relies on kept in one place.
 */
import { Tokenizer } from "@huggingface/tokenizers";

export class TextTokenizer {
  private readonly tokenizer: Tokenizer;

  /** Throws when tokenizer.json cannot be turned into a tokenizer. */
  constructor(tokenizerJson: object, tokenizerConfig: object) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    // Construction is lazy in places; encoding once surfaces a broken vocabulary or regex now.
    this.tokenizer.encode("modelnode");
  }

  /** `addSpecialTokens` adds what the tokenizer's post-processor adds at the start of a text (e.g. BOS). */
  encode(text: string, addSpecialTokens: boolean): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /**
   * Text of `ids`. Clean-up of tokenization spaces is always off, so decoding a sequence in pieces
   * gives the same text as decoding it whole.
   */
  decode(ids: readonly number[], skipSpecialTokens = true): string {
    if (ids.length === 0) return "";
    return this.tokenizer.decode(ids as number[], { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: false });
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }
}
