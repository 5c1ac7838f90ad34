/**
 * The copy-friendly models' successor function (Gpt2Spec.copyCycle): token ids in blocks of
 * `cycle` consecutive ids, each id followed by the next in its block and the last by the first;
 * the ids past the last whole block below `vocabSize - 1` (the end-of-sequence id included) lead
 * into the first block. So greedy decoding never ends early and repeats itself every `cycle`
 * tokens at most.
 */
export function copySuccessors(vocabSize: number, cycle: number): number[] {
  if (!Number.isInteger(cycle) || cycle < 2 || cycle >= vocabSize) throw new Error(`copyCycle must be an integer from 2 to ${vocabSize - 1}`);
  const limit = Math.floor((vocabSize - 1) / cycle) * cycle;
  const next = new Array<number>(vocabSize);
  for (let id = 0; id < vocabSize; id++) {
    const start = id - (id % cycle);
    next[id] = id < limit ? start + (((id % cycle) + 1) % cycle) : id % cycle;
  }
  return next;
}
