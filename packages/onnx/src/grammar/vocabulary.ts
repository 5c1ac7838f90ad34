/**
 * A model's vocabulary as xgrammar reads it (`TokenizerInfo`), from its tokenizer.json: tokens
 * in id order as written in the file (xgrammar undoes the byte-level mapping itself), added
 * tokens as their text. Special added tokens that do not end a generation become "" (never
 * allowed), so that a grammar is never met by writing a control token. The stop ids are given
 * explicitly (the model's end-of-sequence ids): xgrammar's own guess misses some.
 */
import type { GrammarModel } from "../messages/grammar-protocol.js";
import { readTokenizerFiles } from "../shared/model-files.js";
import { xgCall, type TokenizerInfo, type XGrammar } from "./xgrammar.js";

export async function tokenizerInfo(xg: XGrammar, model: GrammarModel): Promise<TokenizerInfo> {
  const { tokenizerJson } = readTokenizerFiles(model.id, model.dir);
  const vocab: Record<string, number> = tokenizerJson.model?.vocab ?? {};
  const added: { id: number; content: string; special?: boolean }[] = tokenizerJson.added_tokens ?? [];
  const eos = new Set(model.eosIds);
  let size = 0;
  for (const id of Object.values(vocab)) size = Math.max(size, id + 1);
  for (const token of added) size = Math.max(size, token.id + 1);
  const encoded: string[] = new Array(size).fill("");
  for (const [token, id] of Object.entries(vocab)) encoded[id] = token;
  for (const token of added) encoded[token.id] = token.special && !eos.has(token.id) ? "" : token.content;
  const decoders = decoderTypes(tokenizerJson.decoder);
  const vocabType = decoders.includes("ByteLevel") ? "byte_level" : decoders.includes("ByteFallback") ? "byte_fallback" : "raw";
  // SentencePiece-style vocabularies mark a word's leading space with "▁"; a Prepend/Metaspace prepends it.
  const prependSpace = vocabType === "byte_fallback" && /"Prepend"|"prepend_scheme":"(first|always)"|"add_prefix_space":true/.test(JSON.stringify([tokenizerJson.normalizer, tokenizerJson.pre_tokenizer]));
  return xgCall(() => xg.TokenizerInfo.createTokenizerInfo(encoded, vocabType, prependSpace, Math.max(model.vocabSize, size), [...eos]));
}

function decoderTypes(decoder: unknown): string[] {
  if (typeof decoder !== "object" || decoder === null) return [];
  const { type, decoders } = decoder as { type?: unknown; decoders?: unknown };
  return [...(typeof type === "string" ? [type] : []), ...(Array.isArray(decoders) ? decoders.flatMap(decoderTypes) : [])];
}
