/**
 * Which worker a generation goes to: among those with room, one that has the model in memory
 * (its heartbeat says `loaded`, else `loading`) before one that would have to load it; then the
 * one with the largest share of its capacity free, as the gateway estimates it (the worker's last
 * heartbeat plus what this gateway assigned to it and saw end since). Pure, so that the spread it
 * gives can be checked without NATS.
 */
export interface Candidate {
  worker: string;
  /** Generations estimated on the worker now. */
  load: number;
  /** Its cap (the heartbeat's maxInFlight). */
  capacity: number;
  /**
   * The model's state there, as its heartbeat says (a worker serving a models directory);
   * absent for a worker whose models are always loaded, which counts as `loaded`.
   */
  modelState?: "loaded" | "loading" | "unloaded";
}

/** Lower is better: a loaded model serves at once, a loading one soon, an unloaded one only after a load. */
const STATE_RANK = { loaded: 0, loading: 1, unloaded: 2 } as const;

/**
 * The candidate with room that holds the model (loaded, then loading; see STATE_RANK) whose load is the smallest fraction of its capacity; among equals,
 * the one with more slots free; among those, one at random: several gateways reading the same
 * heartbeat then spread their picks instead of all sending to one worker. Undefined when none
 * has room. `random` is for tests.
 */
export function chooseWorker(candidates: readonly Candidate[], random: () => number = Math.random): string | undefined {
  let best: Candidate[] = [];
  for (const c of candidates) {
    if (c.capacity <= 0 || c.load >= c.capacity) continue;
    const order = best.length === 0 ? -1 : compare(c, best[0]);
    if (order < 0) best = [c];
    else if (order === 0) best.push(c);
  }
  if (best.length === 0) return undefined;
  return best[Math.min(best.length - 1, Math.floor(random() * best.length))].worker;
}

/** Negative when `a` is the better pick. Cross-multiplied: no rounding in the fractions. */
function compare(a: Candidate, b: Candidate): number {
  const byState = STATE_RANK[a.modelState ?? "loaded"] - STATE_RANK[b.modelState ?? "loaded"];
  if (byState !== 0) return byState;
  const byShare = a.load * b.capacity - b.load * a.capacity;
  if (byShare !== 0) return byShare;
  return b.capacity - b.load - (a.capacity - a.load);
}
