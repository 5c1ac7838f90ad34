/**
 * One token sequence being run through a model, holding its key/value cache between runs.
 *
 * The cache is the `present.*` tensors of the last run, fed back unchanged as the next run's
 * `past_key_values.*`. Decode steps reuse one-element tensors for input_ids and position_ids,
 * and the attention mask lives in one buffer sized to the context, viewed per run.
 *
 * onnxruntime-node copies every fetched output into a fresh ArrayBuffer, even into pre-allocated
 * outputs (measured on 1.30), so what matters is fetching little: a prompt's tokens but the last
 * run in chunks that fetch only the presents, and the last token runs alone, so logits are
 * copied for one position instead of [prompt × vocabulary] (100 MB for 500 tokens of GPT-2's
 * vocabulary, whose allocation then also drags the GC into later decode steps). Chunks of
 * `prefillChunkTokens` are separate turns of the shared run queue, so a long prompt does not
 * stall other requests' decode steps for long.
 *
 * Each run commits as it completes, so a pass that fails between runs leaves a shorter but valid
 * sequence (callers compare `length`); a pass that fails in its first run changes nothing.
 */
import { Tensor, type InferenceSession } from "onnxruntime-node";
import type { LoadedModel } from "./loaded-model.js";
import type { RunQueue } from "./scheduler.js";

/** Inputs of at least this many tokens run their last token separately (see above). */
const SPLIT_LAST_TOKEN_FROM = 16;

export interface ForwardOptions {
  /** Mask for the new tokens (1 = attend); all ones when absent. */
  mask?: ArrayLike<number>;
  /** Checked while waiting for a turn, so also between chunks. */
  signal?: AbortSignal;
}

export class Sequence {
  /** Tokens held. */
  length = 0;
  private past: Record<string, Tensor>;
  private attended = 0; // tokens with mask 1 so far: the next position id
  private readonly mask: BigInt64Array;
  private readonly positions: BigInt64Array; // positions of a prefill chunk's tokens
  // Decode steps (one token) reuse these tensors, rewriting their one-element data in place.
  private readonly decodeIds = new Tensor("int64", new BigInt64Array(1), [1, 1]);
  private readonly decodePosition = new Tensor("int64", new BigInt64Array(1), [1, 1]);
  private readonly useCacheBranch = new Tensor("bool", new Uint8Array(1), [1]);
  /** Every token so far, kept only for models without a KV cache (they re-run the whole sequence). */
  private readonly allIds: number[] | undefined;
  /** Output names to fetch for a prefill chunk: the presents, not the logits. */
  private readonly presentNames: string[];

  constructor(
    readonly model: LoadedModel,
    private readonly runQueue: RunQueue,
    private readonly prefillChunkTokens: number,
  ) {
    this.past = model.emptyCache;
    this.mask = new BigInt64Array(model.contextLength);
    this.positions = new BigInt64Array(Math.min(model.contextLength, prefillChunkTokens));
    this.allIds = model.signature.cache.length === 0 ? [] : undefined;
    this.presentNames = model.signature.cache.map((pair) => pair.presentOutput);
  }

  /** Bytes of KV cache this sequence holds. */
  get cacheBytes(): number {
    return this.allIds ? 0 : this.length * this.model.cacheBytesPerToken;
  }

  /** What `cacheBytes` becomes once `more` tokens are added. */
  cacheBytesAfter(more: number): number {
    return this.allIds ? 0 : (this.length + more) * this.model.cacheBytesPerToken;
  }

  /**
   * Appends `ids` and returns the logits after the last of them (a view of the run's output,
   * valid until the next forward). The caller checks ids and context length beforehand.
   */
  async forward(ids: readonly number[], options: ForwardOptions = {}): Promise<Float32Array> {
    if (ids.length === 0) throw new Error("forward needs at least one token");
    for (let i = 0; i < ids.length; i++) this.mask[this.length + i] = options.mask?.[i] === 0 ? 0n : 1n;
    if (this.allIds) return this.forwardWithoutCache(ids, options.signal);

    // Short inputs run whole: an extra run costs more than copying a few rows of logits.
    const finalSize = ids.length >= SPLIT_LAST_TOKEN_FROM ? 1 : Math.min(ids.length, this.prefillChunkTokens);
    const headEnd = ids.length - finalSize;
    for (let offset = 0; offset < headEnd; offset += this.prefillChunkTokens) {
      await this.run(ids.slice(offset, Math.min(offset + this.prefillChunkTokens, headEnd)), this.presentNames, options.signal);
    }
    const outputs = await this.run(headEnd === 0 ? ids : ids.slice(headEnd), undefined, options.signal);
    const logits = (outputs.logits as Tensor).data as Float32Array;
    const vocabSize = this.model.signature.vocabSize;
    return logits.subarray((finalSize - 1) * vocabSize, finalSize * vocabSize);
  }

  /** Drops the cache; the sequence is empty again. */
  reset(): void {
    this.past = this.model.emptyCache;
    this.length = 0;
    this.attended = 0;
    if (this.allIds) this.allIds.length = 0;
  }

  /** One run over `chunk` after the tokens held; commits the new cache and length. */
  private async run(chunk: readonly number[], fetches: string[] | undefined, signal?: AbortSignal): Promise<InferenceSession.ReturnType> {
    const start = this.length;
    const positions = this.positionIds(start, chunk.length, this.attended);
    const feeds = this.feeds(chunk, start, positions.data);
    Object.assign(feeds, this.past);
    const session = this.model.session;
    // Without a fetch list the runtime returns every output: the usual, cheapest call.
    const outputs = await this.runQueue.run(() => (fetches ? session.run(feeds, fetches) : session.run(feeds)), signal);
    const past: Record<string, Tensor> = {};
    for (const pair of this.model.signature.cache) past[pair.pastInput] = outputs[pair.presentOutput] as Tensor;
    this.past = past;
    this.length = start + chunk.length;
    this.attended = positions.attended;
    return outputs;
  }

  private async forwardWithoutCache(ids: readonly number[], signal?: AbortSignal): Promise<Float32Array> {
    const all = [...this.allIds!, ...ids];
    const positions = this.positionIds(0, all.length, 0);
    const feeds = this.feeds(all, 0, positions.data);
    const outputs = await this.runQueue.run(() => this.model.session.run(feeds), signal);
    this.allIds!.push(...ids);
    this.attended = positions.attended;
    this.length = all.length;
    const logits = outputs.logits.data as Float32Array;
    const vocabSize = this.model.signature.vocabSize;
    return logits.subarray((all.length - 1) * vocabSize, all.length * vocabSize);
  }

  /**
   * Position ids as Hugging Face computes them: the count of attended tokens before each token
   * (cumsum(mask) - 1), and 1 for masked (padding) tokens. Also returns the new attended count.
   */
  private positionIds(start: number, count: number, attended: number): { data: BigInt64Array; attended: number } {
    const data =
      count === 1
        ? (this.decodePosition.data as BigInt64Array)
        : count <= this.positions.length
          ? this.positions.subarray(0, count)
          : new BigInt64Array(count);
    for (let i = 0; i < count; i++) data[i] = this.mask[start + i] === 1n ? BigInt(attended++) : 1n;
    return { data, attended };
  }

  private feeds(chunk: readonly number[], start: number, positions: BigInt64Array): Record<string, Tensor> {
    const n = chunk.length;
    const total = start + n;
    const signature = this.model.signature;
    let inputIds = this.decodeIds;
    if (n === 1) (this.decodeIds.data as BigInt64Array)[0] = BigInt(chunk[0]);
    else inputIds = new Tensor("int64", BigInt64Array.from(chunk, (id) => BigInt(id)), [1, n]);
    const feeds: Record<string, Tensor> = { input_ids: inputIds };
    if (signature.hasAttentionMask) feeds.attention_mask = new Tensor("int64", this.mask.subarray(0, total), [1, total]);
    if (signature.hasPositionIds) feeds.position_ids = n === 1 ? this.decodePosition : new Tensor("int64", positions, [1, n]);
    if (signature.hasUseCacheBranch) {
      (this.useCacheBranch.data as Uint8Array)[0] = start > 0 ? 1 : 0;
      feeds.use_cache_branch = this.useCacheBranch;
    }
    return feeds;
  }
}
