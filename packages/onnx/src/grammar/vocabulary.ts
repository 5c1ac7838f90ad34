/**
 * A model's vocabulary as xgrammar reads it (`TokenizerInfo`), from its tokenizer.json: tokens
 * in id order as written in the file (xgrammar undoes the byte-level mapping itself), added
 * tokens as their text. Special added tokens that do not end a generation become "" (never
 * allowed), so that a grammar is never met by writing a control token. The stop ids are given
 * explicitly (the model's end-of-sequence ids): xgrammar's own guess misses some.
 */
import type { GrammarModel } from "../messages/grammar-protocol.js";
import { byteLevelBytes } from "../shared/byte-vocabulary.js";
import { readTokenizerFiles } from "../shared/model-files.js";
import { Utf8Guard } from "./utf8-guard.js";
import { xgCall, type TokenizerInfo, type XGrammar } from "./xgrammar.js";

/** The model's vocabulary for xgrammar, and the UTF-8 guard built from the same tokens' bytes. */
export async function tokenizerInfo(xg: XGrammar, model: GrammarModel): Promise<{ info: TokenizerInfo; guard: Utf8Guard }> {
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
  const vocabSize = Math.max(model.vocabSize, size);
  const info = await xgCall(() => xg.TokenizerInfo.createTokenizerInfo(encoded, vocabType, prependSpace, vocabSize, [...eos]));
  const addedIds = new Set(added.map((token) => token.id));
  const utf8 = new TextEncoder();
  const bytesOf = (id: number): Uint8Array => {
    const token = encoded[id] ?? "";
    if (addedIds.has(id) || vocabType === "raw") return utf8.encode(token);
    if (vocabType === "byte_level") return byteLevelBytes(token);
    const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
    return byte ? Uint8Array.of(parseInt(byte[1], 16)) : utf8.encode(token.replaceAll("\u2581", " "));
  };
  return { info, guard: Utf8Guard.build(vocabSize, bytesOf) };
}

function decoderTypes(decoder: unknown): string[] {
  if (typeof decoder !== "object" || decoder === null) return [];
  const { type, decoders } = decoder as { type?: unknown; decoders?: unknown };
  return [...(typeof type === "string" ? [type] : []), ...(Array.isArray(decoders) ? decoders.flatMap(decoderTypes) : [])];
}
