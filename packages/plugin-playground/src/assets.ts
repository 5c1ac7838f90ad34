/**
 * The files the playground serves, read once when the plugin is made: the page, its own script
 * and style sheet, and the browser build of @modelnode/client (the modules reachable from its
 * browser entry, found by following their relative imports). Nothing else on disk is reachable:
 * a request names a key of these maps or gets 404.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export interface Asset {
  body: string;
  contentType: string;
  etag: string;
}

export interface PlaygroundAssets {
  /** The page, with its import map filled in. */
  page: Asset;
  /** The import map's script, hashed for the page's Content-Security-Policy. */
  importMapHash: string;
  /** The page's own files, by name (`/playground/<name>`). */
  own: ReadonlyMap<string, Asset>;
  /** The client's browser modules, by path relative to its entry's folder (`/playground/client/<path>`). */
  client: ReadonlyMap<string, Asset>;
  /** The client's browser entry, relative to its folder. */
  clientEntry: string;
}

export const CONTENT_TYPES = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
} as const;

/** This package's root (this file is at dist/src/assets.js). */
const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The page's own files: name → where it is in the package (the browser code is compiled into dist/web). */
const OWN_FILES: Record<string, string> = {
  "app.js": "dist/web/app.js",
  "request.js": "dist/web/request.js",
  "playground.css": "static/playground.css",
};

/** What `import … from "<specifier>"` the page's script uses for the client (resolved by the import map). */
export const CLIENT_SPECIFIER = "@modelnode/client";

export function asset(body: string, contentType: string): Asset {
  return { body, contentType, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`playgroundPlugin: cannot read ${what} (${path}): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; is the package built?`);
  }
}

/** Compiled modules point their source maps at sources that are not served: drop the comment. */
function withoutSourceMap(code: string): string {
  return code.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
}

export function loadAssets(): PlaygroundAssets {
  const own = new Map<string, Asset>();
  for (const [name, path] of Object.entries(OWN_FILES)) {
    const body = read(join(PACKAGE_ROOT, path), `the playground's ${name}`);
    own.set(name, asset(name.endsWith(".js") ? withoutSourceMap(body) : body, name.endsWith(".css") ? CONTENT_TYPES.css : CONTENT_TYPES.js));
  }
  const { entry, modules } = loadClientBuild();
  const client = new Map<string, Asset>();
  for (const [path, code] of modules) client.set(path, asset(withoutSourceMap(code), CONTENT_TYPES.js));

  const importMap = `{"imports": {${JSON.stringify(CLIENT_SPECIFIER)}: ${JSON.stringify(`/playground/client/${entry}`)}}}`;
  const html = read(join(PACKAGE_ROOT, "static", "index.html"), "the playground's page");
  if (!html.includes("<!--IMPORT_MAP-->")) throw new Error("playgroundPlugin: static/index.html has no <!--IMPORT_MAP--> marker");
  const page = asset(html.replace("<!--IMPORT_MAP-->", `<script type="importmap">${importMap}</script>`), CONTENT_TYPES.html);
  return { page, importMapHash: createHash("sha256").update(importMap).digest("base64"), own, client, clientEntry: entry };
}

/** The installed @modelnode/client's package folder and its browser entry module. */
export function clientBrowserEntry(): { root: string; entry: string } {
  const require = createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = require.resolve("@modelnode/client/package.json");
  } catch (error) {
    throw new Error(`playgroundPlugin: cannot find @modelnode/client (${(error as Error).message.split("\n")[0]})`);
  }
  const root = dirname(manifest);
  const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { exports?: unknown; browser?: unknown; module?: unknown; main?: unknown };
  const target = browserTarget(pkg);
  if (!target) throw new Error(`playgroundPlugin: @modelnode/client (${root}) names no browser entry in its package.json`);
  const entry = resolve(root, target);
  if (!existsSync(entry)) throw new Error(`playgroundPlugin: the browser build of @modelnode/client is missing (${entry}); is it built?`);
  return { root, entry };
}

/** The `browser` condition of the "." export (or of "./browser"), else the package's `browser`, `module` or default entry. */
function browserTarget(pkg: { exports?: unknown; browser?: unknown; module?: unknown; main?: unknown }): string | undefined {
  const pick = (value: unknown, conditions: readonly string[]): string | undefined => {
    if (typeof value === "string") return value;
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    const map = value as Record<string, unknown>;
    for (const condition of conditions) {
      if (condition in map) {
        const found = pick(map[condition], conditions);
        if (found) return found;
      }
    }
    return undefined;
  };
  const browserFirst = ["browser", "import", "default"];
  const exports = pkg.exports;
  if (typeof exports === "object" && exports !== null && !Array.isArray(exports)) {
    const map = exports as Record<string, unknown>;
    const hasSubpaths = Object.keys(map).some((key) => key.startsWith("."));
    if (hasSubpaths) {
      if (map["./browser"] !== undefined) return pick(map["./browser"], browserFirst);
      return pick(map["."], browserFirst);
    }
    return pick(map, browserFirst);
  }
  if (typeof exports === "string") return exports;
  if (typeof pkg.browser === "string") return pkg.browser;
  if (typeof pkg.module === "string") return pkg.module;
  return typeof pkg.main === "string" ? pkg.main : undefined;
}

/** Static `import`/`export … from`, side-effect `import "…"`, and `import("…")` specifiers of a compiled module. */
export function importSpecifiers(code: string): string[] {
  const found = new Set<string>();
  const patterns = [
    /(?:^|[;}\n])\s*(?:import|export)\s*(?:type\s+)?(?:[\w$*{},\s]+?\s+from\s*)?["']([^"'\n]+)["']/g,
    /\bimport\s*\(\s*["']([^"'\n]+)["']\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of code.matchAll(pattern)) found.add(match[1]);
  return [...found];
}

/**
 * The modules of the client's browser build: its entry and every module it reaches by relative
 * imports, keyed by path relative to the entry's folder. A bare import (a package a browser cannot
 * resolve) or one that leaves that folder is an error here, not a broken page later.
 */
export function loadClientBuild(): { entry: string; modules: Map<string, string> } {
  const { entry } = clientBrowserEntry();
  const base = dirname(entry);
  const modules = new Map<string, string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    const key = relative(base, file).split(sep).join("/");
    if (modules.has(key)) continue;
    const code = read(file, "a module of @modelnode/client's browser build");
    modules.set(key, code);
    for (const specifier of importSpecifiers(code)) {
      if (!specifier.startsWith("./") && !specifier.startsWith("../")) {
        throw new Error(`playgroundPlugin: @modelnode/client's browser build imports "${specifier}" (in ${key}), which a browser cannot load without a bundler`);
      }
      const target = resolve(dirname(file), specifier);
      const rel = relative(base, target);
      if (rel.startsWith("..") || rel.includes(`${sep}..`) || !/^[\w./-]+$/.test(rel.split(sep).join("/"))) {
        throw new Error(`playgroundPlugin: @modelnode/client's browser build imports "${specifier}" (in ${key}), outside its folder`);
      }
      pending.push(target);
    }
  }
  return { entry: relative(base, entry).split(sep).join("/"), modules };
}
