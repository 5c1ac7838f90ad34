/** The HTTP routes of a node by path: exact paths first, then `:param` patterns in order, then `/prefix/*` fallbacks (longest prefix first). */
import type { ResolvedRoute } from "./http-route.js";

export class RouteTable {
  private readonly byPath = new Map<string, ResolvedRoute[]>();
  /** Paths with `:param` segments, tried in order when no exact path matches. */
  private readonly patterns: { segments: string[]; routes: ResolvedRoute[] }[] = [];
  /** Paths ending in `/*`: the prefix (with its slash) and its routes, longest prefix first. */
  private readonly prefixes: { prefix: string; routes: ResolvedRoute[] }[] = [];

  constructor(routes: readonly ResolvedRoute[]) {
    for (const route of routes) {
      let list = this.byPath.get(route.path);
      if (!list) {
        list = [];
        this.byPath.set(route.path, list);
        if (route.path.endsWith("/*")) this.prefixes.push({ prefix: route.path.slice(0, -1), routes: list });
        else if (route.path.includes("/:")) this.patterns.push({ segments: route.path.split("/"), routes: list });
      }
      const taken = list.find((r) => r.method === route.method);
      if (taken) throw new Error(`two HTTP routes for ${route.method} ${route.path}: plugin "${taken.plugin}" and plugin "${route.plugin}"`);
      list.push(route);
    }
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** The routes of a path (every method) and the parameters it binds; undefined when none. */
  match(path: string): { routes: ResolvedRoute[]; params: Record<string, string> } | undefined {
    const exact = this.byPath.get(path);
    if (exact && !exact[0]?.path.includes("/:") && !exact[0]?.path.endsWith("/*")) return { routes: exact, params: {} };
    const parts = path.split("/");
    for (const { segments, routes } of this.patterns) {
      if (segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        if (segments[i].startsWith(":") && parts[i] !== "") {
          try {
            params[segments[i].slice(1)] = decodeURIComponent(parts[i]);
          } catch {
            ok = false;
          }
        } else ok = segments[i] === parts[i];
      }
      if (ok) return { routes, params };
    }
    for (const { prefix, routes } of this.prefixes) {
      if (path.length > prefix.length && path.startsWith(prefix)) return { routes, params: { "*": path.slice(prefix.length) } };
    }
    return undefined;
  }
}
