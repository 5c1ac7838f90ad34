/** Each token's text, for showing a tokenization (`tokenize`), on the tokenizer thread. */
import { createTextStream } from "../shared/text-stream.js";
import type { TextTokenizer } from "../shared/text-tokenizer.js";

/**
 * One piece of text per id, for showing a tokenization: the pieces join to the text of the ids,
 * special tokens (BOS, EOS, …) shown as their content. A character whose bytes span several
 * tokens comes out whole on its last token (the others get ""); bytes that never complete one
 * end up on the last piece.
 */
export function tokenPieces(tokenizer: TextTokenizer, ids: readonly number[]): string[] {
  const stream = createTextStream(tokenizer, []);
  const pieces = ids.map((id) => {
    const added = tokenizer.addedToken(id);
    return added?.special ? added.content : stream.push(id);
  });
  const rest = stream.flush();
  if (rest.length > 0 && pieces.length > 0) pieces[pieces.length - 1] += rest;
  return pieces;
}
