/**
 * One token sequence being run through a model, holding its key/value cache between runs.
 *
 * The cache is the `present.*` tensors of the last run, fed back unchanged as `past_key_values.*`
 * (no copying between steps). Decode steps reuse one-element typed arrays for input_ids and
 * position_ids, and the attention mask lives in one buffer sized to the context, viewed per run.
 * A forward pass commits its new state only when every chunk has run, so a failed or cancelled
 * pass leaves the sequence as it was.
 */
import { Tensor, type InferenceSession } from "onnxruntime-node";
import type { LoadedModel } from "./loaded-model.js";
import type { RunQueue } from "./scheduler.js";

export interface ForwardOptions {
  /** Mask for the new tokens (1 = attend); all ones when absent. */
  mask?: ArrayLike<number>;
  /** Checked between chunks and while waiting for a turn. */
  signal?: AbortSignal;
}

export class Sequence {
  /** Tokens held (cache length). */
  length = 0;
  private past: Record<string, Tensor>;
  private attended = 0; // tokens with mask 1 so far: the next position id
  private readonly mask: BigInt64Array;
  private readonly positions: BigInt64Array; // positions of the current run's tokens
  private readonly decodeIds = new BigInt64Array(1);
  private readonly useCacheBranch = new Tensor("bool", new Uint8Array(1), [1]);
  /** Every token so far, kept only for models without a KV cache (they re-run the whole sequence). */
  private readonly allIds: number[] | undefined;

  constructor(
    readonly model: LoadedModel,
    private readonly runQueue: RunQueue,
    private readonly prefillChunkTokens: number,
  ) {
    this.past = model.emptyCache;
    this.mask = new BigInt64Array(model.contextLength);
    this.positions = new BigInt64Array(Math.min(model.contextLength, Math.max(prefillChunkTokens, 1)));
    this.allIds = model.signature.cache.length === 0 ? [] : undefined;
  }

  get cacheBytes(): number {
    return this.allIds ? 0 : this.length * this.model.cacheBytesPerToken;
  }

  /** Room left in the context. */
  get remaining(): number {
    return this.model.contextLength - this.length;
  }

  /**
   * Appends `ids` and returns the logits after the last of them (a view into the run's output,
   * valid until the next forward). The caller checks ids and context length beforehand.
   */
  async forward(ids: readonly number[], options: ForwardOptions = {}): Promise<Float32Array> {
    if (ids.length === 0) throw new Error("forward needs at least one token");
    const start = this.length;
    for (let i = 0; i < ids.length; i++) this.mask[start + i] = BigInt(options.mask ? options.mask[i] : 1);
    if (this.allIds) return this.forwardWithoutCache(ids, options.signal);

    let past = this.past;
    let attended = this.attended;
    let logits: Float32Array | undefined;
    for (let offset = 0; offset < ids.length; offset += this.prefillChunkTokens) {
      const chunk = ids.slice(offset, offset + this.prefillChunkTokens);
      const chunkStart = start + offset;
      const positions = this.positionIds(chunkStart, chunk.length, attended);
      attended = positions.attended;
      const feeds = this.feeds(chunk, chunkStart, positions.data, past);
      const outputs = await this.runQueue.run(() => this.model.session.run(feeds), options.signal);
      logits = lastRow(outputs.logits as Tensor, chunk.length, this.model.signature.vocabSize);
      past = {};
      for (const pair of this.model.signature.cache) past[pair.pastInput] = outputs[pair.presentOutput] as Tensor;
    }
    this.past = past;
    this.attended = attended;
    this.length = start + ids.length;
    return logits!;
  }

  /** Drops the cache; the sequence is empty again. */
  reset(): void {
    this.past = this.model.emptyCache;
    this.length = 0;
    this.attended = 0;
    if (this.allIds) this.allIds.length = 0;
  }

  private async forwardWithoutCache(ids: readonly number[], signal?: AbortSignal): Promise<Float32Array> {
    const all = [...this.allIds!, ...ids];
    const positions = this.positionIds(0, all.length, 0);
    const feeds = this.feeds(all, 0, positions.data, {});
    const outputs = await this.runQueue.run(() => this.model.session.run(feeds), signal);
    this.allIds!.push(...ids);
    this.attended = positions.attended;
    this.length = all.length;
    return lastRow(outputs.logits as Tensor, all.length, this.model.signature.vocabSize);
  }

  /**
   * Position ids as Hugging Face computes them: the count of attended tokens before each token
   * (cumsum(mask) - 1), and 1 for masked (padding) tokens. Returns the new attended count.
   */
  private positionIds(start: number, count: number, attended: number): { data: BigInt64Array; attended: number } {
    const data = count <= this.positions.length ? this.positions.subarray(0, count) : new BigInt64Array(count);
    for (let i = 0; i < count; i++) data[i] = this.mask[start + i] === 1n ? BigInt(attended++) : 1n;
    return { data, attended };
  }

  private feeds(
    chunk: readonly number[],
    chunkStart: number,
    positions: BigInt64Array,
    past: Record<string, Tensor>,
  ): InferenceSession.FeedsType {
    const n = chunk.length;
    const total = chunkStart + n;
    const signature = this.model.signature;
    let idData: BigInt64Array;
    if (n === 1) {
      this.decodeIds[0] = BigInt(chunk[0]);
      idData = this.decodeIds;
    } else {
      idData = BigInt64Array.from(chunk, (id) => BigInt(id));
    }
    const feeds: Record<string, Tensor> = { input_ids: new Tensor("int64", idData, [1, n]), ...past };
    if (signature.hasAttentionMask) feeds.attention_mask = new Tensor("int64", this.mask.subarray(0, total), [1, total]);
    if (signature.hasPositionIds) feeds.position_ids = new Tensor("int64", positions, [1, n]);
    if (signature.hasUseCacheBranch) {
      (this.useCacheBranch.data as Uint8Array)[0] = chunkStart > 0 ? 1 : 0;
      feeds.use_cache_branch = this.useCacheBranch;
    }
    return feeds;
  }
}

/** The logits row of the last position of a [1, n, vocab] output, without copying. */
function lastRow(logits: Tensor, n: number, vocabSize: number): Float32Array {
  const data = logits.data as Float32Array;
  return data.subarray((n - 1) * vocabSize, n * vocabSize);
}
