/**
 * The source layout says which thread code runs on (see src/index.ts and each folder's
 * README.md), and this test holds it: main/, engine/, tokenizer/ and grammar/ never import each other,
 * only messages/ and shared/; messages/ imports only shared/; shared/ imports no thread folder;
 * files outside these folders (src/index.ts, loaded on the caller's thread) import neither
 * engine/, tokenizer/ nor grammar/. No import circle anywhere in src/, type-only imports included. A
 * worker started by path (`new Worker(new URL(...))`) must name a source file that exists.
 *
 * Imports are read with regular expressions (comments stripped first), not the compiler: the
 * sources are plain ES modules with static specifiers, which is all this needs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";

/** Per folder under src/: the folders its files may import from. */
const ALLOWED: Record<string, readonly string[]> = {
  main: ["main", "messages", "shared"],
  engine: ["engine", "messages", "shared"],
  tokenizer: ["tokenizer", "messages", "shared"],
  grammar: ["grammar", "messages", "shared"],
  messages: ["messages", "shared"],
  shared: ["shared"],
};
/** Code of the worker threads: nothing else under src/ may import it. */
const WORKER_FOLDERS = ["engine", "tokenizer", "grammar"];

type Sources = ReadonlyMap<string, string>; // path relative to src/ (posix) → text

function readSources(): Sources {
  const src = fileURLToPath(new URL("../../src", import.meta.url)); // from dist/test to the sources
  const files = (readdirSync(src, { recursive: true }) as string[]).filter((file) => file.endsWith(".ts"));
  return new Map(files.map((file) => [file.split("\\").join("/"), readFileSync(join(src, file), "utf8")]));
}

function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/** Relative specifiers a file imports or re-exports (type-only too, dynamic imports too). */
function importsOf(text: string): string[] {
  const code = withoutComments(text);
  const specifiers: string[] = [];
  for (const pattern of [/\b(?:import|export)\s+(?:type\s+)?[^"';]*?\bfrom\s*["']([^"']+)["']/g, /\bimport\s*["']([^"']+)["']/g, /\bimport\(\s*["']([^"']+)["']\s*\)/g]) {
    for (const match of code.matchAll(pattern)) if (match[1].startsWith(".")) specifiers.push(match[1]);
  }
  return specifiers;
}

/** Paths (relative to src/) that `new Worker(new URL(...))` loads. */
function workerUrlsOf(text: string): string[] {
  return [...withoutComments(text).matchAll(/new Worker\(\s*new URL\(\s*["']([^"']+)["']/g)].map((match) => match[1]);
}

function resolveSource(from: string, specifier: string): string {
  return posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.js$/, ".ts");
}

const folderOf = (file: string) => (file.includes("/") ? file.slice(0, file.indexOf("/")) : "");

/** The import graph: file → the files it imports. A specifier naming no source file is a problem. */
function importGraph(sources: Sources, problems: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [file, text] of sources) {
    const targets: string[] = [];
    for (const specifier of importsOf(text)) {
      const target = resolveSource(file, specifier);
      if (!sources.has(target)) problems.push(`${file} imports "${specifier}", which is no file in src/`);
      else targets.push(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Every broken rule of the layout, as a sentence; none when the layout holds. */
function layoutProblems(sources: Sources): string[] {
  const problems: string[] = [];
  const graph = importGraph(sources, problems);
  for (const [file, targets] of graph) {
    const folder = folderOf(file);
    const allowed = ALLOWED[folder];
    for (const target of targets) {
      const targetFolder = folderOf(target);
      if (allowed ? !allowed.includes(targetFolder) : WORKER_FOLDERS.includes(targetFolder)) {
        problems.push(`${file} imports ${target}: ${folder || "src/"}${folder ? "/" : ""} may not import ${targetFolder || "src"}/`);
      }
    }
    for (const url of workerUrlsOf(sources.get(file)!)) {
      const entry = resolveSource(file, url);
      if (!sources.has(entry)) problems.push(`${file} starts a worker from "${url}", which is no file in src/`);
    }
  }
  for (const cycle of importCycles(graph)) problems.push(`import circle: ${cycle.join(" → ")}`);
  return problems;
}

/** One cycle (as a closed path) per strongly connected component that has one. */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, "open");
    path.push(file);
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === "open") cycles.push([...path.slice(path.indexOf(target)), target]);
      else if (!state.has(target)) visit(target);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return cycles;
}

test("src/ holds the layout: thread folders import only messages/ and shared/, and no import circle", () => {
  const sources = readSources();
  assert.ok(["main", "engine", "tokenizer", "grammar", "messages", "shared"].every((folder) => [...sources.keys()].some((file) => folderOf(file) === folder)), "every layout folder exists");
  assert.ok(sources.size > 30, `found ${sources.size} source files`);
  assert.deepEqual(layoutProblems(sources), []);
});

test("the worker entry files are started by path (the grammar thread's by the engine's)", () => {
  const sources = readSources();
  const started = [...sources].flatMap(([file, text]) => workerUrlsOf(text).map((url) => resolveSource(file, url)));
  assert.deepEqual(started.sort(), ["engine/worker.ts", "grammar/worker.ts", "tokenizer/worker.ts"]);
});

test("the layout check finds a thread folder importing another, a shared file importing a thread, and circles", () => {
  const tree = (files: Record<string, string>): Sources => new Map(Object.entries(files));
  const ok = tree({
    "index.ts": 'export { a } from "./main/a.js";',
    "main/a.ts": 'import { m } from "../messages/m.js";\nimport type {\n  S,\n} from "../shared/s.js";\nexport const a = m;',
    "engine/e.ts": 'import { s } from "../shared/s.js";',
    "messages/m.ts": 'import { s } from "../shared/s.js"; export const m = s;',
    "shared/s.ts": "// import { e } from \"../engine/e.js\"; (a comment, not an import)\nexport const s = 1;",
  });
  assert.deepEqual(layoutProblems(ok), []);

  const crossing = layoutProblems(new Map([...ok, ["main/b.ts", 'import type { E } from "../engine/e.js";']]));
  assert.equal(crossing.length, 1);
  assert.match(crossing[0], /main\/b\.ts imports engine\/e\.ts/);
  assert.match(layoutProblems(new Map([...ok, ["shared/t.ts", 'export * from "../tokenizer/w.js";'], ["tokenizer/w.ts", ""]]))[0], /shared\/t\.ts imports tokenizer\/w\.ts/);
  assert.match(layoutProblems(new Map([...ok, ["messages/n.ts", 'import { a } from "../main/a.js";']]))[0], /messages\/n\.ts imports main\/a\.ts/);
  assert.match(layoutProblems(new Map([...ok, ["index.ts", 'export { e } from "./engine/e.js";']]))[0], /index\.ts imports engine\/e\.ts/);
  assert.match(layoutProblems(new Map([...ok, ["main/c.ts", 'const w = import("../engine/e.js");']]))[0], /main\/c\.ts imports engine\/e\.ts/);
  assert.match(layoutProblems(new Map([...ok, ["main/d.ts", 'import "../missing.js";']]))[0], /no file in src/);
  assert.match(layoutProblems(new Map([...ok, ["main/w.ts", 'new Worker(new URL("../engine/gone.js", import.meta.url));']]))[0], /starts a worker from "\.\.\/engine\/gone\.js"/);

  const circle = layoutProblems(
    new Map([
      ...ok,
      ["shared/x.ts", 'import type { Y } from "./y.js";'],
      ["shared/y.ts", 'import { z } from "./z.js";'],
      ["shared/z.ts", 'export type { X } from "./x.js";'],
    ]),
  );
  assert.deepEqual(circle, ["import circle: shared/x.ts → shared/y.ts → shared/z.ts → shared/x.ts"]);
});
