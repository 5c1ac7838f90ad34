/**
 * The model's tokenizer: Hugging Face `tokenizers` (tokenizer.json), with the few calling
 * conventions the pipeline relies on kept in one place. The engine thread (prompts, steps,
 * generated text) and the tokenizer thread (tokenize / countTokens / detokenize) build theirs
 * with `buildTokenizer` and encode prompts with `promptTokenIds`, so both agree on every id.
 */
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { ByteVocabulary, byteLevelBytes } from "./byte-vocabulary.js";
import { ModelLoadError, type ModelFiles } from "./model-files.js";

/**
 * A model directory's tokenizer; a `ModelLoadError` naming tokenizer.json when it is unusable.
 * `decodeOnly`: for the engine thread, which only turns ids into text (see TextTokenizer).
 */
export function buildTokenizer(modelId: string, dir: string, files: Pick<ModelFiles, "tokenizerJson" | "tokenizerConfig">, options: { decodeOnly?: boolean } = {}): TextTokenizer {
  try {
    return new TextTokenizer(files.tokenizerJson, files.tokenizerConfig, options);
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
  /** The tokenizers library's tokenizer; absent when a byte-level vocabulary is packed for decoding alone. */
  private readonly tokenizer: Tokenizer | undefined;
  private readonly packed: ByteVocabulary | undefined;
  private readonly added: ReadonlyMap<number, { content: string; special: boolean }>;
  private readonly bytesCache = new Map<number, Uint8Array>();
  /** A byte-level BPE tokenizer (GPT-2 style), whose tokens each stand for fixed bytes. */
  readonly byteLevel: boolean;
  /**
   * Decodes only: `encode` throws. This is the engine thread's kind: every decode step hands V8
   * tens of megabytes of fresh cache buffers from ONNX Runtime, each batch of which starts a
   * garbage collection, and each collection walks the whole heap — a full GPT-2 tokenizer there
   * (19 MB of heap) cost 15 % of batch-8 throughput. So a byte-level vocabulary is packed into
   * two typed arrays (outside the heap), and other tokenizers are built without their BPE merge
   * table, which only encoding uses. Prompts are encoded on the tokenizer thread.
   */
  readonly decodeOnly: boolean;

  /** Throws when tokenizer.json cannot be turned into a tokenizer. */
  constructor(
    tokenizerJson: {
      model?: { type?: string; byte_fallback?: boolean; merges?: unknown[]; vocab?: unknown };
      decoder?: { type?: string } | null;
      added_tokens?: { id: number; content: string; special?: boolean }[];
    },
    tokenizerConfig: object,
    { decodeOnly = false }: { decodeOnly?: boolean } = {},
  ) {
    this.byteLevel = tokenizerJson.decoder?.type === "ByteLevel" && tokenizerJson.model?.type === "BPE" && !tokenizerJson.model.byte_fallback;
    this.decodeOnly = decodeOnly;
    const vocab = tokenizerJson.model?.vocab;
    if (decodeOnly && this.byteLevel && vocab && typeof vocab === "object" && !Array.isArray(vocab)) {
      this.tokenizer = undefined;
      this.packed = ByteVocabulary.fromVocab(vocab as Record<string, number>);
      this.added = new Map((tokenizerJson.added_tokens ?? []).map((token) => [token.id, { content: token.content, special: token.special === true }]));
      return;
    }
    const withoutMerges = decodeOnly && tokenizerJson.model?.type === "BPE" ? { ...tokenizerJson, model: { ...tokenizerJson.model, merges: [] } } : tokenizerJson;
    const tokenizer = new Tokenizer(withoutMerges, tokenizerConfig);
    this.tokenizer = tokenizer;
    this.packed = undefined;
    this.added = new Map([...tokenizer.get_added_tokens_decoder()].map(([id, token]) => [id, { content: token.content, special: token.special }]));
    // Construction is lazy in places; encoding once surfaces a broken vocabulary or regex now.
    tokenizer.encode("modelnode");
  }

  /** `addSpecialTokens` adds what the tokenizer's post-processor adds at the start of a text (e.g. BOS). */
  encode(text: string, addSpecialTokens: boolean): number[] {
    if (this.decodeOnly || !this.tokenizer) throw new Error("this tokenizer only decodes (the engine thread's); encode on the tokenizer thread");
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /**
   * Text of `ids`. Clean-up of tokenization spaces is always off, so decoding a sequence in pieces
   * gives the same text as decoding it whole.
   */
  decode(ids: readonly number[], skipSpecialTokens = true): string {
    if (ids.length === 0) return "";
    if (this.tokenizer) return this.tokenizer.decode(ids as number[], { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: false });
    // The library's byte-level decoding: runs of ordinary tokens as (lossy) UTF-8 of their bytes,
    // added tokens as their content, special ones left out when skipped.
    let text = "";
    let run: Uint8Array[] = [];
    const endRun = () => {
      if (run.length === 0) return;
      const bytes = new Uint8Array(run.reduce((sum, part) => sum + part.length, 0));
      let at = 0;
      for (const part of run) bytes.set(part, (at += part.length) - part.length);
      text += LOSSY_UTF8.decode(bytes);
      run = [];
    };
    for (const id of ids) {
      const added = this.added.get(id);
      if (!added) run.push(this.tokenBytes(id));
      else if (!(skipSpecialTokens && added.special)) {
        endRun();
        text += added.content;
      }
    }
    endRun();
    return text;
  }

  addedToken(id: number): { content: string; special: boolean } | undefined {
    return this.added.get(id);
  }

  /**
   * Token `id` alone, as log probabilities show it: its text, and its bytes (exact for a byte-level
   * vocabulary and for byte-fallback tokens such as <0xE2>, whose text alone is U+FFFD).
   */
  tokenPiece(id: number): { text: string; bytes: Uint8Array } {
    const added = this.added.get(id);
    if (added) return { text: added.content, bytes: UTF8.encode(added.content) };
    if (this.byteLevel) {
      const bytes = this.tokenBytes(id);
      return { text: LOSSY_UTF8.decode(bytes), bytes };
    }
    const token = this.tokenizer?.id_to_token(id) ?? "";
    const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
    if (byte) {
      const bytes = Uint8Array.of(parseInt(byte[1], 16));
      return { text: LOSSY_UTF8.decode(bytes), bytes };
    }
    // SentencePiece writes a space as "▁".
    const text = token.replaceAll("\u2581", " ");
    return { text, bytes: UTF8.encode(text) };
  }

  /** The bytes a byte-level token stands for (empty for ids outside the vocabulary). */
  tokenBytes(id: number): Uint8Array {
    if (this.packed) return this.packed.tokenBytes(id);
    let bytes = this.bytesCache.get(id);
    if (!bytes) {
      bytes = byteLevelBytes(this.tokenizer!.id_to_token(id) ?? "");
      this.bytesCache.set(id, bytes);
    }
    return bytes;
  }
}

const LOSSY_UTF8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const UTF8 = new TextEncoder();
