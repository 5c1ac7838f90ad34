/**
 * Which worker a generation goes to: the one with the largest share of its capacity free, as
 * the gateway estimates it (the worker's last heartbeat plus what this gateway assigned to it
 * and saw end since). Pure, so that the spread it gives can be checked without NATS.
 */
export interface Candidate {
  worker: string;
  /** Generations estimated on the worker now. */
  load: number;
  /** Its cap (the heartbeat's maxInFlight). */
  capacity: number;
}

/**
 * The candidate with room whose load is the smallest fraction of its capacity; among equals,
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
  const byShare = a.load * b.capacity - b.load * a.capacity;
  if (byShare !== 0) return byShare;
  return b.capacity - b.load - (a.capacity - a.load);
}
