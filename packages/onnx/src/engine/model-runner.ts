/**
 * The scheduler of one model: continuous batching.
 *
 * Every iteration does, in order:
 * 1. **Prefill**: a group of waiting inputs (new prompts, legacy steps, later chunks of long
 *    prompts) fed together in one batched run, each at most `prefillChunkTokens` tokens, the group
 *    at most `prefillChunkTokens` padded tokens (so a long prompt goes alone, chunk by chunk, one
 *    chunk per iteration). Inputs that are now fully fed produce their first token (generations)
 *    or their answer (steps) from this run's logits.
 *    The first tokens are sent to their clients right away, before the decode run.
 * 2. **Join**: newly prefilled generations join the running batch (decode-batches.ts: in a free
 *    slot in place, or by rebuilding the batch once; rows of very different lengths in a batch
 *    of their own).
 * 3. **Decode**: one batched run per decode batch, feeding every running generation its last
 *    token; then finished and cancelled rows leave.
 *
 * The choices of one request (a choice group) are one prefill input: each samples its first token
 * from the same logits, then joins with its own copy of the prompt's cache.
 *
 * So a request is prefilled in the first iteration after it is admitted, joins the running batch
 * at once, and leaves as soon as it ends; a long prompt never holds the others up for more than one
 * chunk per iteration. Graphs that cannot batch (no attention_mask or position_ids input, or no
 * KV cache) run each sequence as a batch of its own, one after another.
 */
import type { ProtocolError, StepResult } from "@modelnode/core/pipeline";
import { stepCancelled } from "../messages/steps.js";
import type { GenerationRow } from "./generation-row.js";
import { DecodeBatches, type Joiner } from "./decode-batches.js";
import { KvBatch, type RowInput, type RowRef } from "./kv-batch.js";
import type { LoadedModel } from "./loaded-model.js";
import type { PrefixCache } from "./prefix-cache.js";
import { argmax } from "./sampler.js";
import type { SpeculativeSettings } from "../messages/speculative.js";
import { logitsPerPosition, SpeculativeDecoder } from "./speculative-decode.js";
import type { StepSession } from "./step-sessions.js";

const TRACE = process.env.MODELNODE_ENGINE_TRACE === "1";
/** Iterations a waiting input may be passed over by shorter ones before it goes first. */
const PREFILL_PATIENCE = 2;

export interface StepJob {
  requestId: number;
  session: StepSession;
  step: number;
  inputIds: number[];
  cancelled: boolean;
}

/** Input still to be fed through prefill, and the cache built so far. */
export interface PrefillItem {
  source: RowRef;
  pending: number[];
  pendingMask?: number[];
  generation?: GenerationRow;
  /** The other choices of `generation`'s group, prefilled with it. */
  siblings?: GenerationRow[];
  step?: StepJob;
  /** Iterations in a row this input was left out of the prefill run. */
  waited: number;
}

export interface RunnerHooks {
  stepDone(job: StepJob, result: StepResult): void;
  stepFailed(job: StepJob, error: Error): void;
  generationFailed(row: GenerationRow, error: Error): void;
  /** After a prefill run: first tokens are ready to go out. */
  prefilled(): void;
}

export interface RunnerLimits {
  maxBatchSize: number;
  prefillChunkTokens: number;
  /** The node's prompt-lookup settings (absent: never speculate). */
  speculative?: SpeculativeSettings;
}

export class ModelRunner {
  readonly prefilling: PrefillItem[] = [];
  private decode: DecodeBatches;
  /** Generations that were prefilled and wait to join the decode batch. */
  private joining: Joiner[] = [];
  private iteration = 0;
  /** What the last prefill run leaves in the prefix cache: sequences, their rows, the tokens those hold. */
  private readonly toStore: [readonly number[], RowRef, number][] = [];
  readonly batchable: boolean;
  /** Runs made and rows they served, per kind (prefill, decode): the batching actually achieved. */
  readonly counts = { prefillRuns: 0, prefillRows: 0, decodeRuns: 0, decodeRows: 0 };
  /** Speculative decoding, when the node allows it (rows that speculate carry a PromptLookup). */
  readonly speculator: SpeculativeDecoder | undefined;

  constructor(
    readonly model: LoadedModel,
    private readonly limits: RunnerLimits,
    private readonly hooks: RunnerHooks,
    /** Its model's prefix cache (prefix-cache.ts), when the node keeps one. */
    readonly prefixCache?: PrefixCache,
  ) {
    const { signature } = model;
    this.batchable = signature.hasAttentionMask && signature.hasPositionIds && signature.cache.length > 0;
    this.decode = this.decodeBatches();
    // Guesses are taken back by masking their columns: that needs a batchable graph.
    if (this.batchable && limits.speculative?.method === "ngram") this.speculator = new SpeculativeDecoder(limits.speculative.positionCost);
  }

  /** Rows leaving a decode batch leave their sequence's blocks in the prefix cache. */
  private decodeBatches(): DecodeBatches {
    const cache = this.prefixCache;
    return new DecodeBatches(this.model, this.batchable, cache && ((row, ref) => cache.store(row.sequence, ref, ref.batch.keptColumns(ref.row))));
  }

  /** Generations admitted and not finished: prefilling, joining or decoding. */
  get activeGenerations(): number {
    let prefilling = 0;
    for (const item of this.prefilling) if (item.generation) prefilling += 1 + (item.siblings?.length ?? 0);
    return prefilling + this.joining.length + this.decode.running;
  }

  /** Whether an iteration would run something or end something (paused rows alone wait for a message). */
  get hasWork(): boolean {
    return this.prefilling.length > 0 || this.joining.length > 0 || this.decode.hasRunnableRows;
  }

  /** Rows in the decode batch(es), free slots included: what one decode run computes. */
  get batchSize(): number {
    return this.decode.slots;
  }

  /**
   * Cache bytes the generations' batches may come to hold as they run, padding and freed slots
   * included: a decode batch grows a column per run, every row of it, for as long as its longest
   * remaining generation; a prefill, by its rows' input and generations. What their reservations
   * must at least count for (a reservation is one row's worst case, unpadded).
   */
  get generationBytes(): number {
    const perToken = this.model.cacheBytesPerToken;
    let bytes = 0;
    for (const batch of this.decode.batches) {
      let remaining = 0;
      for (const row of batch.owners) if (row) remaining = Math.max(remaining, row.remainingTokens);
      bytes += batch.size * (batch.columns + remaining) * perToken;
    }
    const held = new Set<KvBatch<unknown>>();
    for (const item of this.prefilling) {
      if (!item.generation) continue;
      held.add(item.source.batch);
      for (const row of rowsOf(item)) bytes += (item.pending.length + row.remainingTokens) * perToken;
    }
    for (const { source, row } of this.joining) {
      held.add(source.batch);
      bytes += row.remainingTokens * perToken;
    }
    for (const batch of held) bytes += batch.cacheBytes;
    return bytes;
  }

  /** Every batch holding cache memory now (for byte accounting). */
  batches(): KvBatch<unknown>[] {
    return [...this.decode.batches, ...this.prefilling.map((item) => item.source.batch), ...this.joining.map((j) => j.source.batch)];
  }

  /** Starts a generation, and the other choices of its group (`siblings`: the same input). */
  startGeneration(row: GenerationRow, siblings: GenerationRow[] = []): void {
    // From its longest cached prefix, when there is one: only the rest is prefilled.
    const hit = this.prefixCache?.take<null>(row.sequence);
    for (const each of [row, ...siblings]) each.cachedTokens = hit?.tokens ?? 0;
    const source = { batch: hit?.batch ?? KvBatch.single(this.model), row: 0 };
    const item: PrefillItem = { source, pending: row.inputIds.slice(hit?.tokens ?? 0), generation: row, waited: 0 };
    if (siblings.length > 0) item.siblings = siblings;
    this.prefilling.push(item);
  }

  startStep(job: StepJob, mask: number[] | undefined): void {
    // Step 0 (a new or restarted session) from its longest cached prefix, unless it masks tokens.
    const hit = job.step === 0 && job.session.cacheable ? this.prefixCache?.take<null>(job.inputIds) : undefined;
    const skip = hit?.tokens ?? 0;
    const source = { batch: hit?.batch ?? job.session.cache, row: 0 };
    this.prefilling.push({ source, pending: job.inputIds.slice(skip), pendingMask: mask?.slice(skip), step: job, waited: 0 });
  }

  /** Every generation and step of this runner, for cancellation on close. */
  *work(): Iterable<GenerationRow | StepJob> {
    for (const item of this.prefilling) {
      yield (item.generation ?? item.step)!;
      if (item.siblings) yield* item.siblings;
    }
    for (const { row } of this.joining) yield row;
    yield* this.decode.rows();
  }

  /** Fails every generation and step of this runner and forgets them (after an unexpected error). */
  abandon(error: Error): void {
    for (const item of this.prefilling.splice(0)) {
      if (item.step) this.hooks.stepFailed(item.step, error);
      else for (const row of rowsOf(item)) this.hooks.generationFailed(row, error);
    }
    for (const { row } of this.joining.splice(0)) this.hooks.generationFailed(row, error);
    for (const row of this.decode.rows()) if (!row.done) this.hooks.generationFailed(row, error);
    this.decode = this.decodeBatches();
    this.toStore.length = 0;
  }

  async iterate(): Promise<void> {
    this.iteration++;
    this.dropCancelledPrefills();
    const group = this.prefillGroup();
    const t0 = performance.now();
    if (group.length > 0) {
      await this.prefill(group);
      this.hooks.prefilled();
      // Only once the first tokens and step answers are out: copying a long prompt's blocks takes a while.
      for (const [ids, source, held] of this.toStore.splice(0)) this.prefixCache?.store(ids, source, held);
    }
    const t1 = performance.now();
    this.decode.leave(this.iteration);
    this.decode.join(this.joining.splice(0).filter(({ row }) => !row.cancelled || !row.finish("cancelled")));
    const t2 = performance.now();
    for (const batch of this.decode.batches) await this.decodeStep(batch);
    const t3 = performance.now();
    this.decode.leave(this.iteration);
    if (TRACE) {
      const shapes = this.decode.batches.map((b) => `${b.size}x${b.columns}`).join(",");
      console.error(`t ${performance.now().toFixed(1)} it ${this.iteration} prefill ${group.length} ${(t1 - t0).toFixed(1)}ms join ${(t2 - t1).toFixed(1)}ms decode [${shapes}] ${(t3 - t2).toFixed(1)}ms waiting ${this.prefilling.length}`);
    }
  }

  private dropCancelledPrefills(): void {
    for (let i = this.prefilling.length - 1; i >= 0; i--) {
      const item = this.prefilling[i];
      if (item.generation) {
        // A group goes on with its choices that are not cancelled.
        const live = rowsOf(item).filter((row) => !row.cancelled || !row.finish("cancelled"));
        if (live.length > 0) {
          [item.generation, ...item.siblings] = live;
          if (item.siblings?.length === 0) delete item.siblings;
          continue;
        }
      } else if (item.step?.cancelled) this.hooks.stepFailed(item.step, cancelledStep(item.step));
      else continue;
      this.prefilling.splice(i, 1);
    }
  }

  /**
   * Inputs to feed in this iteration's prefill run: shortest first (a short prompt's first token
   * should not wait behind a long prompt's chunks), as many as fit one chunk's padded token
   * budget, at least one. An input passed over for PREFILL_PATIENCE iterations goes first.
   */
  private prefillGroup(): PrefillItem[] {
    const budget = this.limits.prefillChunkTokens;
    const chunkOf = (item: PrefillItem) => Math.min(item.pending.length, budget);
    const candidates = [...this.prefilling].sort((a, b) => Number(b.waited >= PREFILL_PATIENCE) - Number(a.waited >= PREFILL_PATIENCE) || chunkOf(a) - chunkOf(b));
    const group: PrefillItem[] = [];
    let width = 0;
    for (const item of candidates) {
      const wider = Math.max(width, chunkOf(item));
      if (group.length > 0 && (!this.batchable || wider * (group.length + 1) > budget)) continue;
      group.push(item);
      width = wider;
    }
    for (const item of this.prefilling) item.waited = group.includes(item) ? 0 : item.waited + 1;
    return group;
  }

  private async prefill(group: PrefillItem[]): Promise<void> {
    const chunk = this.limits.prefillChunkTokens;
    const inputs: RowInput[] = group.map((item) => ({ ids: item.pending.splice(0, chunk), mask: item.pendingMask?.splice(0, chunk) }));
    const fed = group.map((item) => item.pending.length === 0);
    const batch = KvBatch.merge<null>(this.model, group.map((item) => ({ ...item.source, owner: null })));
    let logits: Float32Array[] | undefined;
    this.counts.prefillRuns++;
    this.counts.prefillRows += group.length;
    try {
      logits = await batch.run(this.model.session, inputs, fed.some(Boolean));
    } catch (error) {
      for (const item of group) this.fail(item, error as Error);
      return;
    }
    group.forEach((item, row) => {
      item.source = { batch, row };
      if (!fed[row]) return;
      this.prefilling.splice(this.prefilling.indexOf(item), 1);
      if (item.generation) this.toStore.push([item.generation.sequence, item.source, batch.keptColumns(row)]);
      if (item.step) this.finishStep(item.step, item.source, logits![row]);
      else this.firstTokens(item, logits![row]);
    });
  }

  /**
   * A generation's first token, from its prefill's logits; each choice of a group samples its
   * own from the same logits, and those that go on each get a copy of the prompt's cache (the
   * first takes the prefill's own).
   */
  private firstTokens(item: PrefillItem, logits: Float32Array): void {
    let sourceTaken = false;
    for (const row of rowsOf(item)) {
      if (row.cancelled) row.finish("cancelled");
      else if (!row.accept(logits)) {
        const { batch, row: index } = item.source;
        this.joining.push({ source: sourceTaken ? { batch: batch.copyRow(index), row: 0 } : item.source, row });
        sourceTaken = true;
      }
    }
  }

  private finishStep(job: StepJob, source: RowRef, logits: Float32Array): void {
    const { session } = job;
    session.cache = source.batch.extract(source.row);
    session.length += job.inputIds.length;
    session.lastStep = job.step;
    if (job.step === 0) session.tokenIds = [...job.inputIds];
    else session.tokenIds.push(...job.inputIds);
    if (session.cacheable) this.toStore.push([session.tokenIds, { batch: session.cache, row: 0 }, session.length]);
    const nextTokenId = argmax(logits);
    this.hooks.stepDone(job, {
      sessionId: session.id,
      step: job.step,
      nextTokenId,
      nextTokenText: this.model.tokenizer.decode([nextTokenId], false),
      sequenceLength: session.length,
      inputIds: job.inputIds,
      isEos: this.model.eosTokenIds.has(nextTokenId),
    });
  }

  private async decodeStep(batch: KvBatch<GenerationRow>): Promise<void> {
    // A free slot, a finished row, a paused one or one waiting for its mask is fed a masked token: its real sequence does
    // not change (the column stays hidden), and its logits are not used.
    // A row that waited for its grammar's mask samples now, if the mask is here.
    for (const row of batch.owners) {
      if (!row?.waiting || row.done) continue;
      if (row.cancelled) row.finish("cancelled");
      else row.retry();
    }
    const fed = batch.owners.map((row) => !!row && !row.done && !row.idle);
    if (!fed.some(Boolean)) return; // nobody advances: no run
    // Rows that guess their next tokens feed them too (speculative-decode.ts).
    const drafts = this.speculator?.plan(batch, fed);
    const inputs = batch.owners.map((row, slot): RowInput => (fed[slot] ? { ids: [row!.nextInput, ...(drafts?.[slot] ?? [])] } : { ids: [0], mask: [0] }));
    let logits: Float32Array[][];
    this.counts.decodeRuns++;
    this.counts.decodeRows += fed.filter(Boolean).length;
    const started = performance.now();
    try {
      if (drafts) {
        const width = Math.max(...inputs.map((input) => input.ids.length));
        const output = await batch.runEveryPosition(this.model.session, inputs);
        logits = logitsPerPosition(output, inputs.map((input) => input.ids.length), width, this.model.signature.vocabSize);
      } else logits = (await batch.run(this.model.session, inputs, true))!.map((row) => [row]);
    } catch (error) {
      for (const row of batch.owners) if (row) this.hooks.generationFailed(row, error as Error);
      this.decode.drop(batch);
      return;
    }
    this.speculator?.cost.observe(batch.size * (drafts ? logits.reduce((most, row) => Math.max(most, row.length), 1) : 1), performance.now() - started);
    batch.owners.forEach((row, slot) => {
      if (!row || row.done) return;
      if (row.cancelled) row.finish("cancelled");
      else if (!fed[slot]) return;
      else if (!this.speculator) row.accept(logits[slot][0]);
      else batch.rollback(slot, inputs[slot].ids.length - this.speculator.verify(row, drafts?.[slot] ?? [], logits[slot]));
    });
  }

  private fail(item: PrefillItem, error: Error): void {
    this.prefilling.splice(this.prefilling.indexOf(item), 1);
    if (item.step) this.hooks.stepFailed(item.step, error);
    else for (const row of rowsOf(item)) this.hooks.generationFailed(row, error);
  }
}

/** A prefill input's generations: the generation and its group's other choices. */
function rowsOf(item: PrefillItem): GenerationRow[] {
  return item.siblings ? [item.generation!, ...item.siblings] : [item.generation!];
}

export function cancelledStep(job: StepJob): ProtocolError {
  return stepCancelled(job.session.id, job.step);
}
