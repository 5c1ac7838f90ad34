/**
 * The running generations of one model, kept in one decode batch — or a few, when their lengths
 * differ too much to share one.
 *
 * A left-padded batch is as wide as its longest row, and every decode step reads and rewrites the
 * whole cache: one 450-token row among 60-token rows makes every row cost 450 columns (measured on
 * GPT-2 small, 8 rows: a step went from ~40 ms to over a second). A second batch costs one more
 * pass over the weights per step instead. So a newcomer joins a batch unless the padding it adds
 * would move more bytes per step than the weights do (three times the cache bytes of the added
 * columns: read, concatenated, copied out); then it starts a batch of its own (up to
 * MAX_BATCHES). Batches whose merge would pass the same test are merged.
 *
 * Leaving is cheap: a finished row's slot stays in the batch, free, for FREE_SLOT_ITERATIONS more
 * iterations, so that a newcomer (typically the same client's next request, which arrives during
 * the next run and is prefilled in the iteration after) can be written into it in place instead
 * of rebuilding the batch; then the slot is removed (the last row moves into it).
 * A batch whose leading columns are padding for every row is rebuilt narrower.
 */
import type { LoadedModel } from "./loaded-model.js";
import type { GenerationRow } from "./generation-row.js";
import { KvBatch, type RowRef } from "./kv-batch.js";

const MAX_BATCHES = 3;
const FREE_SLOT_ITERATIONS = 2;

export interface Joiner {
  source: RowRef;
  row: GenerationRow;
}

interface Entry {
  batch: KvBatch<GenerationRow>;
  /** Free slot → iteration it was freed in. */
  freedAt: Map<number, number>;
}

type Owned = RowRef & { owner: GenerationRow };

export class DecodeBatches {
  private entries: Entry[] = [];

  constructor(
    private readonly model: LoadedModel,
    /** False: every generation runs as a batch of its own (graphs that cannot batch). */
    private readonly batchable: boolean,
    /** Called for each finished or cancelled row as it frees its slot, its cache still there. */
    private readonly leaving?: (row: GenerationRow, ref: RowRef) => void,
  ) {}

  get batches(): KvBatch<GenerationRow>[] {
    return this.entries.map((entry) => entry.batch);
  }

  /** Rows that a decode step would advance, or that must leave (finished, cancelled). */
  get hasRunnableRows(): boolean {
    for (const row of this.rows()) if (!row.idle || row.done || row.cancelled || (row.waiting && row.constraint!.ready)) return true;
    return false;
  }

  /** Rows the decode runs compute, free slots included. */
  get slots(): number {
    return this.entries.reduce((sum, entry) => sum + entry.batch.size, 0);
  }

  /** Running generations (not finished). */
  get running(): number {
    let count = 0;
    for (const { batch } of this.entries) for (const row of batch.owners) if (row && !row.done) count++;
    return count;
  }

  *rows(): Iterable<GenerationRow> {
    for (const { batch } of this.entries) for (const row of batch.owners) if (row) yield row;
  }

  /** Drops a batch whose run failed (its rows are failed by the caller). */
  drop(batch: KvBatch<GenerationRow>): void {
    this.entries = this.entries.filter((entry) => entry.batch !== batch);
  }

  /**
   * Finished and cancelled rows free their slots (a cancelled row ends "cancelled" here); slots
   * free for too long are removed; empty batches go; compatible batches merge; wasteful ones
   * are rebuilt narrower.
   */
  leave(iteration: number): void {
    for (const entry of this.entries) {
      entry.batch.owners.forEach((row, slot) => {
        if (!row || !(row.done || row.cancelled)) return;
        row.finish("cancelled"); // no-op when it already finished
        this.leaving?.(row, { batch: entry.batch, row: slot });
        entry.batch.owners[slot] = null;
        entry.freedAt.set(slot, iteration);
      });
      if (!this.batchable) continue;
      for (const [slot, freed] of [...entry.freedAt].sort((a, b) => b[0] - a[0])) {
        if (iteration - freed <= FREE_SLOT_ITERATIONS) continue;
        removeSlot(entry, slot);
      }
    }
    this.entries = this.entries.filter((entry) => entry.batch.owners.some((row) => row !== null));
    if (!this.batchable) return;
    this.mergeOnePair();
    this.entries = this.entries.map((entry) => (wasteful(entry.batch, this.model) ? this.rebuilt([owned(entry.batch)]) : entry));
  }

  /** Prefilled generations join: into a free slot in place, or by rebuilding a compatible batch, or as a new batch. */
  join(joiners: Joiner[]): void {
    if (joiners.length === 0) return;
    if (!this.batchable) {
      for (const { source, row } of joiners) this.entries.push(this.rebuilt([[{ ...source, owner: row }]]));
      return;
    }
    const rebuilds = new Map<Entry, Owned[]>();
    const fresh: Owned[][] = [];
    for (const { source, row } of joiners) {
      const length = source.batch.keptColumns(source.row);
      const joiner = { ...source, owner: row };
      const fits = this.entries.filter((entry) => this.worthJoining(entry.batch, length));
      const slotted = fits.find((entry) => entry.freedAt.size > 0 && length <= entry.batch.columns && !rebuilds.has(entry));
      if (slotted) {
        const [slot] = slotted.freedAt.keys();
        slotted.freedAt.delete(slot);
        slotted.batch.placeRow(slot, source, row);
        continue;
      }
      const group = fresh.find((rows) => this.cheaperThanAPass(padding([rows.length, rows[0].batch.keptColumns(rows[0].row)], [1, length])));
      const target = fits.sort((a, b) => b.batch.size - a.batch.size)[0];
      if (target) rebuilds.set(target, [...(rebuilds.get(target) ?? []), joiner]);
      else if (group) group.push(joiner);
      else if (this.entries.length + fresh.length < MAX_BATCHES) fresh.push([joiner]);
      else {
        const closest = [...this.entries].sort((a, b) => Math.abs(width(a.batch) - length) - Math.abs(width(b.batch) - length))[0];
        rebuilds.set(closest, [...(rebuilds.get(closest) ?? []), joiner]);
      }
    }
    this.entries = this.entries.map((entry) => (rebuilds.has(entry) ? this.rebuilt([owned(entry.batch), rebuilds.get(entry)!]) : entry));
    for (const rows of fresh) this.entries.push(this.rebuilt([rows]));
  }

  /** Merges the first two batches of compatible widths, if any (one copy; one weight pass less per step after). */
  private mergeOnePair(): void {
    for (let i = 0; i < this.entries.length; i++) {
      for (let j = i + 1; j < this.entries.length; j++) {
        const [a, b] = [this.entries[i].batch, this.entries[j].batch];
        if (!this.cheaperThanAPass(padding([live(a), width(a)], [live(b), width(b)]))) continue;
        const merged = this.rebuilt([owned(a), owned(b)]);
        this.entries = [...this.entries.filter((_, k) => k !== i && k !== j), merged];
        return;
      }
    }
  }

  private worthJoining(batch: KvBatch<GenerationRow>, length: number): boolean {
    return this.cheaperThanAPass(padding([live(batch), width(batch)], [1, length]));
  }

  /** Whether `columns` more padding columns per step cost less memory traffic than one more weight pass. */
  private cheaperThanAPass(columns: number): boolean {
    return 3 * columns * this.model.cacheBytesPerToken < this.model.weightBytes;
  }

  private rebuilt(groups: Owned[][]): Entry {
    return { batch: KvBatch.merge(this.model, groups.flat()), freedAt: new Map() };
  }
}

/** Rows' real widths: the batch's columns less the padding every row has on the left. */
function width(batch: KvBatch<GenerationRow>): number {
  return batch.columns - batch.leadingPadding();
}

/** Padding columns two groups of [rows, width] get when they share one batch. */
function padding([rowsA, widthA]: [number, number], [rowsB, widthB]: [number, number]): number {
  const shared = Math.max(widthA, widthB);
  return rowsA * (shared - widthA) + rowsB * (shared - widthB);
}

function live(batch: KvBatch<GenerationRow>): number {
  return batch.owners.filter((owner) => owner !== null).length;
}

/**
 * Columns no row needs: the leading padding, and the holes speculative decoding's rejected
 * guesses (KvBatch.rollback) leave in every row — what a rebuild drops.
 */
function wasteful(batch: KvBatch<GenerationRow>, model: LoadedModel): boolean {
  let longest = 0;
  batch.owners.forEach((owner, row) => owner && (longest = Math.max(longest, batch.keptColumns(row))));
  return batch.columns - longest >= Math.max(16, batch.columns / 4) || batch.columns + 1 > model.contextLength;
}

function owned(batch: KvBatch<GenerationRow>): Owned[] {
  const rows: Owned[] = [];
  batch.owners.forEach((owner, row) => owner && rows.push({ batch, row, owner }));
  return rows;
}

function removeSlot(entry: Entry, slot: number): void {
  const last = entry.batch.size - 1;
  entry.batch.removeRow(slot);
  entry.freedAt.delete(slot);
  // The last row moved into `slot`; if it was free too, it keeps its age under its new index.
  if (last !== slot && entry.freedAt.has(last)) {
    entry.freedAt.set(slot, entry.freedAt.get(last)!);
    entry.freedAt.delete(last);
  }
}
