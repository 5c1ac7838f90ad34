/**
 * Where constrained generations wait while their grammar is prepared (compiled on the grammar
 * thread, or taken from its cache), before the engine admits them; and the engine's one
 * `Grammars` (grammars.ts). A choice group (OpenAI's `n`) waits as one: each choice has its own
 * constraint (its own matcher), and the group is admitted once every one is ready. A choice
 * cancelled meanwhile ends "cancelled" at once; if the grammar fails, every choice fails with it.
 */
import type { GrammarSource } from "../shared/grammar-spec.js";
import type { PipelineLogger } from "../shared/logger.js";
import type { GenerationRow } from "./generation-row.js";
import { Grammars, type GrammarLimits } from "./grammars.js";
import type { LoadedModel } from "./loaded-model.js";

export interface GateHooks {
  failed(row: GenerationRow, error: Error): void;
  /** A row that waited for its mask may go on: the engine's loop may have gone idle. */
  masked(): void;
}

interface Waiting {
  rows: GenerationRow[];
  /** Ids whose grammar is not ready yet. */
  pending: Set<number>;
  /** Admits the rows that are not done. */
  ready(): void;
}

export class GrammarGate {
  private readonly grammars: Grammars;
  private readonly waiting = new Map<number, Waiting>();
  /** Admitted constrained rows, by id (a grammar may still fail for them: a refused token, a broken thread). */
  private readonly running = new Map<number, GenerationRow>();

  constructor(limits: GrammarLimits, logger: PipelineLogger, private readonly hooks: GateHooks) {
    this.grammars = new Grammars(limits, { opened: (id) => this.opened(id), failed: (id, error) => this.failed(id, error), masked: () => hooks.masked() }, logger);
  }

  /**
   * Constrains each row (the first with `replay`, a resumed generation's ids) and holds them until
   * every one's grammar is ready; then `ready` admits them.
   */
  hold(rows: GenerationRow[], model: LoadedModel, grammar: GrammarSource, replay: readonly number[], ready: () => void): void {
    const waiting: Waiting = { rows, pending: new Set(rows.map((row) => row.requestId)), ready };
    rows.forEach((row, i) => {
      this.waiting.set(row.requestId, waiting);
      row.constraint = this.grammars.constrain(row.requestId, model, grammar, i === 0 ? replay : []);
      row.constraint.onClose = () => this.running.delete(row.requestId);
    });
  }

  private opened(id: number): void {
    const waiting = this.waiting.get(id);
    if (!waiting) return;
    this.waiting.delete(id);
    waiting.pending.delete(id);
    const row = waiting.rows.find((each) => each.requestId === id)!;
    if (!row.done) this.running.set(id, row);
    this.release(waiting);
  }

  private failed(id: number, error: Error): void {
    const waiting = this.waiting.get(id);
    const rows = waiting ? waiting.rows : [this.running.get(id)].filter((row) => row !== undefined);
    this.running.delete(id);
    for (const row of rows) {
      this.waiting.delete(row.requestId);
      if (row.done) continue;
      row.fail();
      this.hooks.failed(row, error);
    }
  }

  /** All ready: the live rows go to admission (cancelled ones end now). */
  private release(waiting: Waiting): void {
    if (waiting.pending.size > 0) return;
    for (const row of waiting.rows) if (row.cancelled && !row.done) row.finish("cancelled");
    if (waiting.rows.some((row) => !row.done)) waiting.ready();
  }

  /** Ends a waiting generation "cancelled"; false when it is not waiting here. */
  cancel(id: number): boolean {
    const waiting = this.waiting.get(id);
    if (!waiting) return false;
    this.waiting.delete(id);
    waiting.pending.delete(id);
    waiting.rows.find((row) => row.requestId === id)!.finish("cancelled");
    this.release(waiting);
    return true;
  }

  /** The waiting generations, taken out (the engine is closing: they fail). */
  drain(): GenerationRow[] {
    const rows = [...new Set(this.waiting.values())].flatMap((waiting) => waiting.rows).filter((row) => !row.done);
    this.waiting.clear();
    return rows;
  }

  dispose(): Promise<void> {
    return this.grammars.dispose();
  }
}
