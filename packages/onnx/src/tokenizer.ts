/**
 * The model's tokenizer: Hugging Face `tokenizers` (tokenizer.json), with the few calling
 * conventions the pipeline relies on kept in one place. The engine thread (prompts, steps,
 * generated text) and the tokenizer thread (tokenize / countTokens / detokenize) build theirs
 * with `buildTokenizer` and encode prompts with `promptTokenIds`, so both agree on every id.
 */
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { ModelLoadError, type ModelFiles } from "./model-files.js";

/** A model directory's tokenizer; a `ModelLoadError` naming tokenizer.json when it is unusable. */
export function buildTokenizer(modelId: string, dir: string, files: Pick<ModelFiles, "tokenizerJson" | "tokenizerConfig">): TextTokenizer {
  try {
    return new TextTokenizer(files.tokenizerJson, files.tokenizerConfig);
  } catch (error) {
    throw new ModelLoadError(modelId, join(dir, "tokenizer.json"), `cannot build a tokenizer from it (${(error as Error).message})`);
  }
}

/**
 * A prompt's token ids: the text encoded with the special tokens the tokenizer adds (e.g. BOS);
 * a text that encodes to nothing becomes the BOS token when the model has one, else no ids. Never
 * two BOS tokens in a row at the start.
 */
export function promptTokenIds(tokenizer: TextTokenizer, text: string, bosTokenId: number | undefined): number[] {
  const ids = tokenizer.encode(text, true);
  if (ids.length === 0 && bosTokenId !== undefined) return [bosTokenId];
  // A prompt that writes its own BOS (e.g. "<|begin_of_text|>…", as rendered chat text does) to a
  // tokenizer whose post-processor adds one too would start with two: keep one, as llama.cpp does.
  if (bosTokenId !== undefined && ids.length >= 2 && ids[0] === bosTokenId && ids[1] === bosTokenId) return ids.slice(1);
  return ids;
}

export class TextTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly added: ReadonlyMap<number, { content: string; special: boolean }>;
  private readonly bytesCache = new Map<number, Uint8Array>();
  /** A byte-level BPE tokenizer (GPT-2 style), whose tokens each stand for fixed bytes. */
  readonly byteLevel: boolean;

  /** Throws when tokenizer.json cannot be turned into a tokenizer. */
  constructor(tokenizerJson: { model?: { type?: string; byte_fallback?: boolean }; decoder?: { type?: string } | null }, tokenizerConfig: object) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.added = new Map([...this.tokenizer.get_added_tokens_decoder()].map(([id, token]) => [id, { content: token.content, special: token.special }]));
    this.byteLevel = tokenizerJson.decoder?.type === "ByteLevel" && tokenizerJson.model?.type === "BPE" && !tokenizerJson.model.byte_fallback;
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

  addedToken(id: number): { content: string; special: boolean } | undefined {
    return this.added.get(id);
  }

  /** The bytes a byte-level token stands for (cached; empty for ids outside the vocabulary). */
  tokenBytes(id: number, charToByte: ReadonlyMap<string, number>): Uint8Array {
    let bytes = this.bytesCache.get(id);
    if (!bytes) {
      const token = this.tokenizer.id_to_token(id) ?? "";
      bytes = Uint8Array.from(token, (char: string) => charToByte.get(char) ?? 0);
      this.bytesCache.set(id, bytes);
    }
    return bytes;
  }
}
