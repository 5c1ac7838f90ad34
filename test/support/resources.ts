/**
 * Counts of the process's live handles (sockets, timers, …) by kind, from
 * process.getActiveResourcesInfo(), to check that work leaves nothing behind.
 */
export type ResourceCounts = Record<string, number>;

export function resourceCounts(): ResourceCounts {
  const counts: ResourceCounts = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** Kinds whose count grew from `before` to `after`, as "Kind: before → after". */
export function grown(before: ResourceCounts, after: ResourceCounts, ignore: string[] = []): string[] {
  return Object.keys(after)
    .filter((kind) => !ignore.includes(kind) && after[kind] > (before[kind] ?? 0))
    .map((kind) => `${kind}: ${before[kind] ?? 0} → ${after[kind]}`);
}

/** Waits (up to `timeoutMs`) for no kind to have grown since `before`; returns what still has. */
export async function settleResources(before: ResourceCounts, timeoutMs = 3000, ignore: string[] = []): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let left = grown(before, resourceCounts(), ignore);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    left = grown(before, resourceCounts(), ignore);
  }
  return left;
}
