/**
 * Source maps as a user's debugger and editor read them from an installed package: every
 * `sources` entry of every `.map` in a tarball must name a file that the tarball holds (resolved
 * against the map's folder and its sourceRoot), or come inlined in `sourcesContent`. A map that
 * points at a file left out sends "go to definition" and stack traces nowhere.
 */
import { posix } from "node:path";
import { tarEntries, tarFile } from "./commands.js";

interface SourceMap {
  sourceRoot?: string;
  sources: string[];
  sourcesContent?: (string | null)[];
}

/** The maps in `tarball` and, for each source that resolves nowhere, "map → source". */
export async function unresolvedMapSources(tarball: string): Promise<{ maps: number; unresolved: string[] }> {
  const entries = await tarEntries(tarball);
  const present = new Set(entries);
  const maps = entries.filter((e) => e.endsWith(".map"));
  const unresolved: string[] = [];
  for (const map of maps) {
    const parsed = JSON.parse(await tarFile(tarball, map)) as SourceMap;
    parsed.sources.forEach((source, i) => {
      const path = posix.normalize(posix.join(posix.dirname(map), parsed.sourceRoot ?? "", source));
      if (!present.has(path) && typeof parsed.sourcesContent?.[i] !== "string") unresolved.push(`${map} → ${source}`);
    });
  }
  return { maps: maps.length, unresolved };
}
