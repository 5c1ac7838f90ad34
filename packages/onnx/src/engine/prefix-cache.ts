/**
 * Automatic prefix caching: the keys and values of token blocks that requests already processed,
 * kept after they end, so that a request starting with the same tokens (a shared system prompt,
 * a chat's earlier turns, a legacy session restarted, a resumed generation) copies them into its
 * batch row and prefills only the rest.
 *
 * One cache per loaded model (so per model and dtype). A block is `blockTokens` tokens, found by
 * its chained hash (block-hashes.ts). Blocks are copies: a row that starts from a cached prefix
 * gets the blocks' contents written into its own cache, and a block is stored by copying a row's
 * columns out. So no running row ever points into the cache, every block is idle, and any block
 * may be evicted at any time between runs: least recently used first, when a block is to be
 * stored beyond the cache's share of the budget, or when the admission needs room for running
 * generations and sessions (admission.ts: cached blocks go before idle sessions).
 *
 * The budget (admission.ts) counts the cache's bytes with the generations' reservations and the
 * sessions' caches; a block is stored only when it fits beside them and within `maxBytes`.
 */
import type { EngineLimits } from "../messages/engine-protocol.js";
import type { LoadedModel } from "./loaded-model.js";
import { extendBlockHashes } from "./block-hashes.js";
import { KvBatch, type RowRef } from "./kv-batch.js";
import { allocateCache, type CacheData } from "./kv-copy.js";

export interface PrefixCacheSettings {
  /** Tokens per block. */
  blockTokens: number;
  /** Most bytes the cache may hold (its share of the cache budget). */
  maxBytes: number;
  /** Whether `bytes` more fit the node's whole cache budget now (beside running generations and sessions). */
  fits: (bytes: number) => boolean;
}

interface Block {
  /** Per cache pair: [heads, blockTokens, head_dim]. */
  data: CacheData[];
  /** When it was last stored or hit (a clock shared by every model's cache). */
  used: number;
}

let clock = 0;

/**
 * A model's prefix cache, when the node keeps them (`limits.prefixCache`) and the model has a KV
 * cache (a graph without one re-runs every sequence whole anyway).
 */
export function prefixCacheFor(model: LoadedModel, limits: EngineLimits, fits: PrefixCacheSettings["fits"]): PrefixCache | undefined {
  if (!limits.prefixCache || model.signature.cache.length === 0) return undefined;
  return new PrefixCache(model, { blockTokens: limits.prefixCacheBlockTokens, maxBytes: Math.floor(limits.maxCacheBytes * limits.prefixCacheShare), fits });
}

/** The caches' figures for stats(): what they keep, and prompt tokens looked up and found (vLLM's names), blocks evicted. */
export function prefixCacheStats(caches: readonly PrefixCache[]) {
  const stats = { prefixCacheBytes: 0, prefixCacheBlocks: 0, prefixCacheQueries: 0, prefixCacheHits: 0, prefixCacheEvictions: 0 };
  for (const cache of caches) {
    stats.prefixCacheBytes += cache.bytes;
    stats.prefixCacheBlocks += cache.size;
    stats.prefixCacheQueries += cache.queries;
    stats.prefixCacheHits += cache.hits;
    stats.prefixCacheEvictions += cache.evicted;
  }
  return stats;
}

export class PrefixCache {
  /** By chained hash; in the order of their last use (the first is the least recently used). */
  private readonly blocks = new Map<string, Block>();
  /** Each sequence's block hashes, computed once per block. */
  private readonly chains = new WeakMap<readonly number[], string[]>();
  readonly blockBytes: number;
  /** Prompt tokens looked up, and those found cached (vLLM's prefix_cache_queries / _hits). */
  queries = 0;
  hits = 0;
  /** Blocks evicted since it started. */
  evicted = 0;

  constructor(
    readonly model: LoadedModel,
    private readonly settings: PrefixCacheSettings,
  ) {
    this.blockBytes = settings.blockTokens * model.cacheBytesPerToken;
  }

  get blockTokens(): number {
    return this.settings.blockTokens;
  }

  get bytes(): number {
    return this.blocks.size * this.blockBytes;
  }

  get size(): number {
    return this.blocks.size;
  }

  /** When its least recently used block was used (Infinity when empty): the engine evicts across models by it. */
  get oldestUse(): number {
    for (const block of this.blocks.values()) return block.used;
    return Infinity;
  }

  /**
   * The longest cached prefix of `ids`, at most `ids.length - 1` tokens (the last token is always
   * run, for its logits): a one-row batch holding it and its length, or undefined when nothing
   * is cached. Counted as a query of `ids.length` tokens.
   */
  take<O>(ids: readonly number[], owner: O | null = null): { batch: KvBatch<O>; tokens: number } | undefined {
    this.queries += ids.length;
    const hashes = this.hashesOf(ids, ids.length);
    const found: Block[] = [];
    for (const hash of hashes) {
      const block = this.blocks.get(hash);
      if (!block) break;
      found.push(block);
    }
    this.touchChain(hashes.slice(0, found.length));
    const tokens = Math.min(found.length * this.blockTokens, ids.length - 1);
    if (tokens <= 0) return undefined;
    this.hits += tokens;
    const B = this.blockTokens;
    const data = this.model.signature.cache.map((pair, p) => {
      const [, heads, , headDim] = pair.emptyDims;
      const target = allocateCache(pair.type, heads * tokens * headDim);
      for (let h = 0; h < heads; h++) {
        for (let b = 0; b * B < tokens; b++) {
          const columns = Math.min(B, tokens - b * B);
          const from = h * B * headDim;
          target.set(found[b].data[p].subarray(from, from + columns * headDim), (h * tokens + b * B) * headDim);
        }
      }
      return target;
    });
    return { batch: KvBatch.ofTokens<O>(this.model, data, tokens, owner), tokens };
  }

  /**
   * Stores the full blocks of a row's sequence: `ids` are the tokens its cache holds, in order
   * (it may hold fewer than `ids`; `held` says how many). Blocks already cached are only marked
   * used; new ones are copied out of the row while they fit.
   */
  store(ids: readonly number[], source: RowRef, held: number): void {
    const hashes = this.hashesOf(ids, held);
    const started = clock;
    hashes.forEach((hash, b) => {
      const cached = this.blocks.get(hash);
      if (cached) return this.touch(hash, cached);
      if (!this.makeRoom(started)) return;
      const B = this.blockTokens;
      const data = this.model.signature.cache.map((pair) => allocateCache(pair.type, pair.emptyDims[1] * B * pair.emptyDims[3]));
      source.batch.readTokens(source.row, b * B, (b + 1) * B, data, B);
      this.blocks.set(hash, { data, used: ++clock });
    });
    this.touchChain(hashes);
  }

  /** Drops the least recently used block (returned; undefined when the cache is empty). */
  evictOldest(): Block | undefined {
    for (const [hash, block] of this.blocks) {
      this.blocks.delete(hash);
      this.evicted++;
      return block;
    }
    return undefined;
  }

  clear(): void {
    this.blocks.clear();
  }

  /**
   * Evicts this cache's least recently used blocks until one more block fits its share and the
   * budget; false when it cannot without evicting blocks used since `since` (the sequence being
   * stored: a block whose parent is gone could never be found).
   */
  private makeRoom(since: number): boolean {
    while (this.bytes + this.blockBytes > this.settings.maxBytes || !this.settings.fits(this.blockBytes)) {
      if (this.oldestUse > since) return false;
      this.evictOldest();
    }
    return true;
  }

  private touch(hash: string, block: Block): void {
    block.used = ++clock;
    this.blocks.delete(hash);
    this.blocks.set(hash, block);
  }

  /** Marks a chain's cached blocks used, its last block first: a chain is evicted from its end (as vLLM does), never from its start (which would strand the rest). */
  private touchChain(hashes: readonly string[]): void {
    for (let b = hashes.length - 1; b >= 0; b--) {
      const block = this.blocks.get(hashes[b]);
      if (block) this.touch(hashes[b], block);
    }
  }

  private hashesOf(ids: readonly number[], upTo: number): string[] {
    let known = this.chains.get(ids);
    if (!known) this.chains.set(ids, (known = []));
    return extendBlockHashes(ids, this.blockTokens, known, upTo).slice(0, Math.floor(Math.min(upTo, ids.length) / this.blockTokens));
  }
}
