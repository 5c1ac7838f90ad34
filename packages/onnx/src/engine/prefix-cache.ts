/**
 * Automatic prefix caching: the keys and values of token blocks that requests already processed,
 * kept after they end, so that a request starting with the same tokens (a shared system prompt,
 * a chat's earlier turns, a legacy session restarted, a resumed generation) copies them into its
 * batch row and prefills only the rest.
 *
 * One cache per loaded model (so per model and dtype). A block is `blockTokens` tokens, found by
 * its chained hash (block-hashes.ts). A stored sequence's last, partial block is kept too (a
 * "tail": a prompt's end, a finished generation's last tokens), under its parent block; a lookup
 * takes the longest run of whole blocks, then, from the next block's place, the longest run of
 * tokens any child of the last block found (a whole block or a tail) starts with. So a hit is at
 * least a whole block, and token-granular past it: a chat's next turn finds its previous turn up
 * to the last token the cache holds, not only up to the last whole block. A tail takes a whole
 * block's room. Blocks are copies: a row that starts from a cached prefix gets the blocks'
 * contents written into its own cache, and a block is stored by copying a row's columns out. So no running row ever points into the cache, every block is idle, and any block
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
  /** Per cache pair: [heads, blockTokens, head_dim] (a tail fills its first columns). */
  data: CacheData[];
  /** When it was last stored or hit (a clock shared by every model's cache). */
  used: number;
  /** The key of the block before it (ROOT for a sequence's first block). */
  parent: string;
  /** Its token ids: `blockTokens` of them, fewer for a tail. */
  tokens: number[];
}

/** The parent of every sequence's first block. */
const ROOT = "";

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
  /**
   * By key (a whole block's chained hash; a tail's parent key and token ids); in the order of
   * their last use (the first is the least recently used).
   */
  private readonly blocks = new Map<string, Block>();
  /** Each block's children's keys, by the block's key (ROOT: sequences' first blocks). */
  private readonly children = new Map<string, Set<string>>();
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
   * is cached. Whole blocks as far as they match, then the longest matching start of a child of
   * the last of them (token-granular). Counted as a query of `ids.length` tokens.
   */
  take<O>(ids: readonly number[], owner: O | null = null): { batch: KvBatch<O>; tokens: number } | undefined {
    this.queries += ids.length;
    const B = this.blockTokens;
    const usable = ids.length - 1;
    const hashes = this.hashesOf(ids, ids.length);
    const found: Block[] = [];
    for (const hash of hashes) {
      const block = this.blocks.get(hash);
      if (!block) break;
      found.push(block);
    }
    const whole = found.length;
    let tokens = Math.min(whole * B, usable);
    // Past the whole blocks (one at least: a shorter hit saves next to nothing, and on dynamically
    // quantized graphs its separate run changes the logits, e.g. a prompt whose only hit is its
    // BOS token), the child that starts with most of the tokens that follow.
    const partial = whole > 0 && tokens < usable ? this.longestChild(hashes[whole - 1], ids, tokens, usable) : undefined;
    if (partial) {
      this.touch(partial.key, partial.block); // a chain's end goes first
      found.push(partial.block);
      tokens += partial.tokens;
    }
    this.touchChain(hashes.slice(0, whole));
    if (tokens <= 0) return undefined;
    this.hits += tokens;
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
   * Stores a row's sequence: its whole blocks, and the partial block after them (its tail). `ids`
   * are the tokens its cache holds, in order (it may hold fewer than `ids`; `held` says how many).
   * Blocks already cached are only marked used, and so is a cached child that starts with the
   * tail; new ones are copied out of the row while they fit. A tail that a new block or tail
   * starts with is dropped (it can serve no lookup the new one does not).
   */
  store(ids: readonly number[], source: RowRef, held: number): void {
    const B = this.blockTokens;
    const hashes = this.hashesOf(ids, held);
    const started = clock;
    let stored = 0; // whole blocks cached, from the first
    for (const [b, hash] of hashes.entries()) {
      const cached = this.blocks.get(hash);
      if (cached) this.touch(hash, cached);
      else if (this.makeRoom(started)) this.add(hash, b > 0 ? hashes[b - 1] : ROOT, ids.slice(b * B, (b + 1) * B), source, b * B);
      else break; // the rest could never be found
      stored++;
    }
    const start = hashes.length * B;
    const end = Math.min(held, ids.length);
    if (stored > 0 && stored === hashes.length && end > start) {
      const parent = hashes[stored - 1];
      const tokens = ids.slice(start, end);
      const covering = this.longestChild(parent, tokens, 0, tokens.length);
      if (covering?.tokens === tokens.length) this.touch(covering.key, covering.block);
      else if (this.makeRoom(started)) this.add(`${parent}:${tokens.join(",")}`, parent, tokens, source, start);
    }
    this.touchChain(hashes.slice(0, stored));
  }

  /** Copies tokens [start, start + tokens.length) of `source`'s row into a new block under `parent`, in place of the tails it starts with. */
  private add(key: string, parent: string, tokens: number[], source: RowRef, start: number): void {
    const siblings = this.children.get(parent) ?? new Set<string>();
    for (const other of siblings) {
      const block = this.blocks.get(other)!;
      if (block.tokens.length < this.blockTokens && block.tokens.length <= tokens.length && block.tokens.every((id, i) => id === tokens[i])) this.remove(other);
    }
    const B = this.blockTokens;
    const data = this.model.signature.cache.map((pair) => allocateCache(pair.type, pair.emptyDims[1] * B * pair.emptyDims[3]));
    source.batch.readTokens(source.row, start, start + tokens.length, data, B);
    this.blocks.set(key, { data, used: ++clock, parent, tokens });
    this.children.set(parent, siblings.add(key));
  }

  /**
   * The child of `parent` that starts with most of `ids`[from, to) (at least one token): its key,
   * block and how many tokens it matches (at most its own).
   */
  private longestChild(parent: string, ids: readonly number[], from: number, to: number): { key: string; block: Block; tokens: number } | undefined {
    let best: { key: string; block: Block; tokens: number } | undefined;
    for (const key of this.children.get(parent) ?? []) {
      const block = this.blocks.get(key)!;
      const most = Math.min(block.tokens.length, to - from);
      let same = 0;
      while (same < most && block.tokens[same] === ids[from + same]) same++;
      if (same > (best?.tokens ?? 0)) best = { key, block, tokens: same };
    }
    return best;
  }

  private remove(key: string): void {
    const block = this.blocks.get(key);
    if (!block) return;
    this.blocks.delete(key);
    const siblings = this.children.get(block.parent)!;
    siblings.delete(key);
    if (siblings.size === 0) this.children.delete(block.parent);
  }

  /** Drops the least recently used block (returned; undefined when the cache is empty). */
  evictOldest(): Block | undefined {
    for (const [key, block] of this.blocks) {
      this.remove(key);
      this.evicted++;
      return block;
    }
    return undefined;
  }

  clear(): void {
    this.blocks.clear();
    this.children.clear();
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
