/**
 * A batch of token sequences run together through a stock Hugging Face causal-LM graph, with their
 * key/value caches held as one left-padded tensor per cache input: [rows, heads, columns, head_dim].
 *
 * This is how text-generation-inference batches such graphs (`CausalLMBatch`): each row has its
 * own `attention_mask` (zeros over padding) and its own `position_ids`, so rows of different
 * lengths share a run. The graph's `present.*` outputs become the next run's `past_key_values.*`
 * as they are: no copy on the hot path. Copies happen only when the batch changes shape:
 * - `merge` builds a batch from rows of others (compacting away their padding, so the new batch
 *   is as narrow as its longest row);
 * - `extract` takes one row out as a batch of its own (compacted);
 * - `placeRow` writes a row into a free slot in place (one row's worth of copying);
 * - `removeRow` moves the last row into the hole (rows are contiguous blocks, so the tensors
 *   shrink to a prefix without copying anything else).
 *
 * Inside one run, rows may feed different numbers of tokens: each row's new tokens are right-
 * aligned and the gap before them is masked padding. Masked columns (padding, guesses taken back)
 * stay hidden for the rest of the row's life, whatever values they hold. A model without a KV
 * cache re-runs each row's whole history; such batches hold one row.
 */
import { Tensor, type InferenceSession } from "onnxruntime-node";
import { halfToFloat } from "../shared/float16.js";
import type { LoadedModel } from "./loaded-model.js";
import { allocateCache, copySegments, type CacheData } from "./kv-copy.js";
import { guardedRun } from "./run-guard.js";

export type { CacheData };

/** What a row feeds in one run: token ids and, optionally, their mask (1 = attend; default all 1). */
export interface RowInput {
  ids: readonly number[];
  mask?: readonly number[];
}

/** One row of a batch. */
export interface RowRef {
  batch: KvBatch<unknown>;
  row: number;
}

const PADDING_ID = 0;
/** `num_logits_to_keep` = 1: only the last position's logits are ever read. */
const ONE_LOGIT = new Tensor("int64", BigInt64Array.of(1n), []);

export class KvBatch<Owner> {
  private constructor(
    readonly model: LoadedModel,
    /** Who each row belongs to; null marks a free slot (it still runs, its output is ignored). */
    readonly owners: (Owner | null)[],
    /** One tensor per cache pair, [rows, heads, columns, head_dim]. */
    private past: Tensor[],
    /** Per row: mask bits for columns [0, columns), in a buffer that may be longer. */
    private masks: Uint8Array[],
    /** Per row: attended tokens so far, i.e. the next real token's position id. */
    private attended: number[],
    /** Columns every row spans (padding included). */
    public columns: number,
    /** Models without a KV cache: every token id each row holds. */
    private readonly history: number[][] | undefined,
  ) {}

  /** An empty batch of one row (no tokens yet). */
  static single<O>(model: LoadedModel, owner: O | null = null): KvBatch<O> {
    const past = model.signature.cache.map((pair) => model.emptyCache[pair.pastInput]);
    const history = model.signature.cache.length === 0 ? [[]] : undefined;
    return new KvBatch<O>(model, [owner], past, [new Uint8Array(16)], [0], 0, history);
  }

  /**
   * A new batch holding the given rows of other batches, in order, each compacted (masked columns
   * dropped) and left-padded to the longest. The row of a one-row batch alone is taken as it is,
   * without copying (the source batch must not be run again).
   */
  static merge<O>(model: LoadedModel, sources: readonly (RowRef & { owner: O | null })[]): KvBatch<O> {
    if (sources.length === 1 && sources[0].batch.size === 1) {
      const { batch, owner } = sources[0];
      const history = batch.history && [batch.history[0]];
      return new KvBatch<O>(model, [owner], batch.past, [batch.masks[0]], [batch.attended[0]], batch.columns, history);
    }
    return KvBatch.packed(model, sources);
  }

  /** `merge` without its shortcut: always a copy, sharing no tensor or buffer with the sources. */
  private static packed<O>(model: LoadedModel, sources: readonly (RowRef & { owner: O | null })[]): KvBatch<O> {
    if (model.signature.cache.length === 0) throw new Error("a model without a KV cache runs one sequence per batch");
    const segments = sources.map(({ batch, row }) => batch.keptSegments(row));
    const lengths = segments.map((list) => list.reduce((sum, [start, end]) => sum + end - start, 0));
    const columns = Math.max(0, ...lengths);
    const rows = sources.length;
    const past = model.signature.cache.map((pair, p) => {
      const [, heads, , headDim] = pair.emptyDims;
      const data = allocateCache(pair.type, rows * heads * columns * headDim);
      sources.forEach(({ batch }, r) => {
        const source = batch.past[p];
        copySegments(source.data as CacheData, batch.columns, sources[r].row, segments[r], data, columns, r, columns - lengths[r], heads, headDim);
      });
      return new Tensor(pair.type, data, [rows, heads, columns, headDim]);
    });
    const masks = lengths.map((length) => {
      const mask = new Uint8Array(Math.max(16, columns * 2));
      mask.fill(1, columns - length, columns);
      return mask;
    });
    return new KvBatch<O>(
      model,
      sources.map((s) => s.owner),
      past,
      masks,
      sources.map(({ batch, row }) => batch.attended[row]),
      columns,
      undefined,
    );
  }

  /**
   * A one-row batch holding `columns` tokens: per cache pair, their keys or values as a
   * [heads, columns, head_dim] array, taken as they are (a cached prefix, engine/prefix-cache.ts).
   */
  static ofTokens<O>(model: LoadedModel, data: readonly CacheData[], columns: number, owner: O | null = null): KvBatch<O> {
    const past = model.signature.cache.map((pair, p) => {
      const [, heads, , headDim] = pair.emptyDims;
      return new Tensor(pair.type, data[p], [1, heads, columns, headDim]);
    });
    const mask = new Uint8Array(Math.max(16, columns * 2));
    mask.fill(1, 0, columns);
    return new KvBatch<O>(model, [owner], past, [mask], [columns], columns, undefined);
  }

  /**
   * Row `row`'s real tokens [from, to) (masked columns skipped), per cache pair copied into
   * `targets[p]` ([heads, blockColumns, head_dim]) from column 0.
   */
  readTokens(row: number, from: number, to: number, targets: readonly CacheData[], blockColumns: number): void {
    const segments: [number, number][] = [];
    let seen = 0;
    for (const [start, end] of this.keptSegments(row)) {
      const a = Math.max(start, start + from - seen);
      const b = Math.min(end, start + to - seen);
      if (a < b) segments.push([a, b]);
      seen += end - start;
      if (seen >= to) break;
    }
    this.model.signature.cache.forEach((pair, p) => {
      const [, heads, , headDim] = pair.emptyDims;
      copySegments(this.past[p].data as CacheData, this.columns, row, segments, targets[p], blockColumns, 0, 0, heads, headDim);
    });
  }

  get size(): number {
    return this.owners.length;
  }

  /** Bytes the cache tensors hold (padding included). */
  get cacheBytes(): number {
    return this.history ? 0 : this.size * this.columns * this.model.cacheBytesPerToken;
  }

  /** Columns at the left that are padding in every owned row (what a `merge` would drop). */
  leadingPadding(): number {
    let lead = this.columns;
    this.owners.forEach((owner, row) => {
      if (owner === null) return;
      const mask = this.masks[row];
      let c = 0;
      while (c < lead && mask[c] === 0) c++;
      lead = c;
    });
    return lead;
  }

  /**
   * Feeds each row its input (one per row, at least one token each) in one batched pass — two when
   * logits are wanted after a long input (`model.splitLastColumn`) — and returns every row's
   * logits after its last token (views of the run's output, valid until the next run), or nothing
   * when `wantLogits` is false.
   */
  async run(session: InferenceSession, inputs: readonly RowInput[], wantLogits: boolean): Promise<Float32Array[] | undefined> {
    if (inputs.length !== this.size) throw new Error(`expected ${this.size} row inputs, got ${inputs.length}`);
    const width = Math.max(...inputs.map((input) => input.ids.length));
    if (width < 1) throw new Error("every run feeds at least one token per row");
    if (this.history) return this.runWithoutCache(session, inputs[0], wantLogits);
    const { ids, bits } = this.aligned(inputs, width);
    const split = wantLogits && this.model.splitLastColumn(this.size, width) ? width - 1 : 0;
    if (split > 0) await this.feed(session, ids, bits, width, 0, split, 0);
    const logits = await this.feed(session, ids, bits, width, split, width, wantLogits ? 1 : 0);
    return logits && lastColumnLogits(logits, this.size, width - split, this.model.signature.vocabSize);
  }

  /**
   * Speculative decoding's run (speculative-decode.ts): like `run`, in one pass, but the logits
   * of every position come back ([rows, width or fewer, vocab]; each row's input right-aligned).
   */
  async runEveryPosition(session: InferenceSession, inputs: readonly RowInput[]): Promise<Tensor> {
    if (inputs.length !== this.size || this.history) throw new Error("speculative decoding needs a KV cache and one input per row");
    const width = Math.max(...inputs.map((input) => input.ids.length));
    const { ids, bits } = this.aligned(inputs, width);
    return (await this.feed(session, ids, bits, width, 0, width, width))!;
  }

  /** Takes back row `row`'s last `count` tokens (rejected guesses): masked for good, position moved back. */
  rollback(row: number, count: number): void {
    if (count <= 0) return;
    this.masks[row].fill(0, this.columns - count, this.columns);
    this.attended[row] -= count;
  }

  /** Each row's tokens right-aligned in a block of `width` columns; the gap is masked padding. */
  private aligned(inputs: readonly RowInput[], width: number): { ids: number[]; bits: Uint8Array } {
    const ids = new Array<number>(this.size * width).fill(PADDING_ID);
    const bits = new Uint8Array(this.size * width);
    inputs.forEach((input, row) => {
      const offset = row * width + width - input.ids.length;
      input.ids.forEach((id, i) => {
        ids[offset + i] = id;
        bits[offset + i] = input.mask?.[i] === 0 ? 0 : 1;
      });
    });
    return { ids, bits };
  }

  /**
   * Row `row` alone as a batch of its own that shares nothing with this one, this one unchanged:
   * the other rows of a choice group start from one prefill this way.
   */
  copyRow<O>(row: number, owner: O | null = null): KvBatch<O> {
    if (this.history) {
      const mask = Uint8Array.from(this.masks[row]);
      return new KvBatch<O>(this.model, [owner], this.past, [mask], [this.attended[row]], this.columns, [[...this.history[row]]]);
    }
    return KvBatch.packed<O>(this.model, [{ batch: this, row, owner }]);
  }

  /**
   * Row `row` alone as a batch of its own: a compacted copy from a batch of several rows (this one
   * unchanged); from a one-row batch, the same tensors (this batch must not be run again).
   */
  extract<O>(row: number, owner: O | null = null): KvBatch<O> {
    return KvBatch.merge<O>(this.model, [{ batch: this, row, owner }]);
  }

  /**
   * Writes a row of another batch into slot `row` (which must be free and wide enough: the row's
   * compacted length ≤ columns), right-aligned, masking the columns before it.
   */
  placeRow(row: number, { batch: source, row: sourceRow }: RowRef, owner: Owner): void {
    const segments = source.keptSegments(sourceRow);
    const length = segments.reduce((sum, [start, end]) => sum + end - start, 0);
    if (length > this.columns) throw new Error(`row of ${length} columns does not fit a batch of ${this.columns}`);
    this.model.signature.cache.forEach((pair, p) => {
      const [, heads, , headDim] = pair.emptyDims;
      const target = this.past[p].data as CacheData;
      copySegments(source.past[p].data as CacheData, source.columns, sourceRow, segments, target, this.columns, row, this.columns - length, heads, headDim);
    });
    const mask = new Uint8Array(Math.max(16, this.columns * 2));
    mask.fill(1, this.columns - length, this.columns);
    this.masks[row] = mask;
    this.attended[row] = source.attended[sourceRow];
    this.owners[row] = owner;
  }

  /** Drops slot `row`: the last row moves into it and every tensor shrinks by one row. */
  removeRow(row: number): void {
    const last = this.size - 1;
    this.past = this.past.map((tensor, p) => {
      const [, heads, columns, headDim] = tensor.dims;
      const rowSize = heads * columns * headDim;
      const data = tensor.data as CacheData;
      if (row !== last) data.copyWithin(row * rowSize, last * rowSize, (last + 1) * rowSize);
      if (last === 0) return this.model.emptyCache[this.model.signature.cache[p].pastInput];
      return new Tensor(tensor.type, data.subarray(0, last * rowSize), [last, heads, columns, headDim]);
    });
    for (const list of [this.owners, this.masks, this.attended] as unknown[][]) {
      list[row] = list[last];
      list.pop();
    }
    if (this.history) {
      this.history[row] = this.history[last];
      this.history.pop();
    }
    if (last === 0) this.columns = 0;
  }

  /** The cache tensors, [rows, heads, columns, head_dim] each (for inspection; not to be kept across runs). */
  get tensors(): readonly Tensor[] {
    return this.past;
  }

  /** Row `row`'s mask over the batch's columns (1 = attended; a view, not to be kept across runs). */
  maskOf(row: number): Uint8Array {
    return this.masks[row].subarray(0, this.columns);
  }

  /** Real tokens each row holds (compacted length), for accounting. */
  keptColumns(row: number): number {
    const mask = this.masks[row];
    let kept = 0;
    for (let c = 0; c < this.columns; c++) kept += mask[c] === 1 ? 1 : 0;
    return kept;
  }

  private async feed(
    session: InferenceSession,
    ids: readonly number[],
    bits: Uint8Array,
    width: number,
    from: number,
    to: number,
    /** Logits wanted for this many last positions (0: none). */
    keepLogits: number,
  ): Promise<Tensor | undefined> {
    const rows = this.size;
    const count = to - from;
    const total = this.columns + count;
    const signature = this.model.signature;
    const inputIds = new BigInt64Array(rows * count);
    const positions = new BigInt64Array(rows * count);
    const mask = new BigInt64Array(rows * total);
    for (let row = 0; row < rows; row++) {
      let attended = this.attended[row];
      const rowMask = this.growMask(row, total);
      for (let i = 0; i < count; i++) {
        const bit = bits[row * width + from + i];
        rowMask[this.columns + i] = bit;
        inputIds[row * count + i] = BigInt(ids[row * width + from + i]);
        // Hugging Face's position ids: cumsum(mask) - 1, and 1 where masked.
        positions[row * count + i] = bit === 1 ? BigInt(attended++) : 1n;
      }
      this.attended[row] = attended;
      for (let c = 0; c < total; c++) mask[row * total + c] = rowMask[c] === 1 ? 1n : 0n;
    }
    const feeds: Record<string, Tensor> = { input_ids: new Tensor("int64", inputIds, [rows, count]) };
    if (signature.hasAttentionMask) feeds.attention_mask = new Tensor("int64", mask, [rows, total]);
    if (signature.hasPositionIds) feeds.position_ids = new Tensor("int64", positions, [rows, count]);
    if (signature.hasUseCacheBranch) feeds.use_cache_branch = new Tensor("bool", Uint8Array.of(this.columns > 0 ? 1 : 0), [1]);
    if (signature.hasNumLogitsToKeep) feeds.num_logits_to_keep = keepLogits <= 1 ? ONE_LOGIT : new Tensor("int64", BigInt64Array.of(BigInt(keepLogits)), []);
    signature.cache.forEach((pair, p) => (feeds[pair.pastInput] = this.past[p]));
    const outputs = await guardedRun(session, feeds, keepLogits > 0 ? undefined : signature.cache.map((pair) => pair.presentOutput));
    this.past = signature.cache.map((pair) => outputs[pair.presentOutput] as Tensor);
    this.columns = total;
    return keepLogits > 0 ? (outputs.logits as Tensor) : undefined;
  }

  private async runWithoutCache(session: InferenceSession, input: RowInput, wantLogits: boolean): Promise<Float32Array[] | undefined> {
    const history = this.history![0];
    history.push(...input.ids);
    const total = history.length;
    const rowMask = this.growMask(0, total);
    input.ids.forEach((_, i) => (rowMask[this.columns + i] = input.mask?.[i] === 0 ? 0 : 1));
    const positions = new BigInt64Array(total);
    let attended = 0;
    for (let c = 0; c < total; c++) positions[c] = rowMask[c] === 1 ? BigInt(attended++) : 1n;
    const feeds: Record<string, Tensor> = { input_ids: new Tensor("int64", BigInt64Array.from(history, BigInt), [1, total]) };
    const signature = this.model.signature;
    if (signature.hasAttentionMask) feeds.attention_mask = new Tensor("int64", BigInt64Array.from(rowMask.subarray(0, total), BigInt), [1, total]);
    if (signature.hasPositionIds) feeds.position_ids = new Tensor("int64", positions, [1, total]);
    if (signature.hasNumLogitsToKeep) feeds.num_logits_to_keep = ONE_LOGIT;
    const outputs = await guardedRun(session, feeds);
    this.attended[0] = attended;
    this.columns = total;
    return wantLogits ? lastColumnLogits(outputs.logits as Tensor, 1, total, signature.vocabSize) : undefined;
  }

  /** Row `row`'s mask buffer, grown (contents kept) to hold `columns` entries. */
  private growMask(row: number, columns: number): Uint8Array {
    let mask = this.masks[row];
    if (mask.length < columns) {
      const grown = new Uint8Array(Math.max(columns, mask.length * 2));
      grown.set(mask.subarray(0, this.columns));
      this.masks[row] = mask = grown;
    }
    return mask;
  }

  /** [start, end) runs of unmasked columns of `row`. */
  private keptSegments(row: number): [number, number][] {
    const mask = this.masks[row];
    const segments: [number, number][] = [];
    for (let c = 0; c < this.columns; c++) {
      if (mask[c] !== 1) continue;
      const start = c;
      while (c < this.columns && mask[c] === 1) c++;
      segments.push([start, c]);
    }
    return segments;
  }
}

/**
 * Each row's logits after its last position, from [rows, positions, vocab] logits: every position
 * fed, or fewer (one, with num_logits_to_keep). float32 logits are views; float16 logits are
 * converted to float32 (only the rows' last positions).
 */
export function lastColumnLogits(logits: Tensor, rows: number, columns: number, vocabSize: number): Float32Array[] {
  const perRow = (logits.dims.length === 3 ? logits.dims[1] : columns) * vocabSize;
  const last = (row: number): [number, number] => [row * perRow + perRow - vocabSize, (row + 1) * perRow];
  if (logits.type === "float32") return Array.from({ length: rows }, (_, row) => (logits.data as Float32Array).subarray(...last(row)));
  if (logits.type === "float16") return Array.from({ length: rows }, (_, row) => halfToFloat((logits.data as Uint16Array).subarray(...last(row))));
  throw new Error(`logits are ${logits.type}; only float32 and float16 logits are supported`);
}
