/**
 * A tokenizer of the caller's own for a built model (the CLI's --tokenizer): a `tokenizer.json`
 * file, or a folder holding one with its companions, copied into the model's folder. Checked
 * against the model before anything is written: an id past the model's vocabulary would make
 * the embedding lookup fail at the first request that produces it.
 */
import { copyFileSync, existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/** The files taken from a tokenizer folder besides tokenizer.json, when present. */
const COMPANIONS = ["tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"];

export interface TokenizerSource {
  /** The resolved path given (recorded in config.json, so --if-missing sees a different source). */
  path: string;
  /** [file to copy, its name in the model's folder] */
  files: [string, string][];
}

/** Resolves and checks `path` against a vocabulary of `vocabSize` ids; throws a message that says what is wrong. */
export function readTokenizerSource(path: string, vocabSize: number): TokenizerSource {
  const full = resolve(path);
  if (!existsSync(full)) throw new Error(`tokenizer ${full}: not found (give a tokenizer.json or a folder that holds one)`);
  const files: [string, string][] = [];
  if (statSync(full).isDirectory()) {
    const json = join(full, "tokenizer.json");
    if (!existsSync(json)) throw new Error(`tokenizer ${full}: the folder has no tokenizer.json`);
    files.push([json, "tokenizer.json"]);
    for (const name of COMPANIONS) if (existsSync(join(full, name))) files.push([join(full, name), name]);
  } else {
    files.push([full, "tokenizer.json"]);
  }
  const largest = largestId(files[0][0]);
  if (largest >= vocabSize) {
    throw new Error(`tokenizer ${files[0][0]}: it has ids up to ${largest}, past the model's vocabulary of ${vocabSize} (choose a preset with a vocabulary that large, e.g. tiny-llama3 for Llama 3's tokenizer)`);
  }
  return { path: full, files };
}

export function copyTokenizer(source: TokenizerSource, dir: string): void {
  for (const [from, name] of source.files) copyFileSync(from, join(dir, name));
}

/** The largest token id in a Hugging Face tokenizer.json (its model's vocabulary and its added tokens). */
function largestId(file: string): number {
  let tokenizer: { model?: { vocab?: unknown }; added_tokens?: { id?: unknown }[] };
  try {
    tokenizer = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`tokenizer ${file}: not valid JSON (${(error as Error).message})`);
  }
  const vocab = tokenizer?.model?.vocab;
  if (vocab === undefined || vocab === null || typeof vocab !== "object") throw new Error(`tokenizer ${file}: not a Hugging Face tokenizer.json (no model.vocab)`);
  // BPE and WordPiece map token → id; Unigram lists [token, score] pairs, the id being the index.
  let largest = -1;
  if (Array.isArray(vocab)) largest = vocab.length - 1;
  else for (const id of Object.values(vocab)) if (typeof id === "number" && id > largest) largest = id;
  for (const added of tokenizer.added_tokens ?? []) if (typeof added.id === "number") largest = Math.max(largest, added.id);
  return largest;
}
