/**
 * xgrammar (`@mlc-ai/web-xgrammar`, C++ compiled to WebAssembly): grammars compiled against a
 * vocabulary, and matchers that say which tokens may come next.
 *
 * The package is a UMD bundle under a `"type": "module"` package.json, so `import` yields an empty
 * module; it is loaded as CommonJS here. Each load is a fresh, independent wasm instance. An
 * invalid grammar aborts the instance that read it (a bare `WebAssembly.RuntimeError`) and leaves
 * it broken; the real message is only printed through `console.error` as a `[FATAL] file:line:
 * msg` line, which `xgCall` captures.
 */
import { readFileSync } from "node:fs";
import { createRequire, Module } from "node:module";
import type * as XGrammarModule from "@mlc-ai/web-xgrammar";

export type XGrammar = typeof XGrammarModule;
export type { CompiledGrammar, Grammar, GrammarMatcher, GrammarCompiler, TokenizerInfo } from "@mlc-ai/web-xgrammar";

const require = createRequire(import.meta.url);

/** A fresh wasm instance (tens of milliseconds: its wasm is inlined in the bundle). */
export function loadXGrammar(): XGrammar {
  installErrorCapture();
  const file = require.resolve("@mlc-ai/web-xgrammar");
  const loaded = new Module(file) as Module & { _compile(source: string, file: string): void; paths: string[] };
  loaded.filename = file;
  loaded.paths = (Module as unknown as { _nodeModulePaths(path: string): string[] })._nodeModulePaths(file);
  loaded._compile(readFileSync(file, "utf8"), file);
  return loaded.exports as XGrammar;
}

/** An xgrammar call that failed; `aborted`: its instance is broken and must be dropped. */
export class XGrammarError extends Error {
  constructor(
    message: string,
    readonly aborted: boolean,
  ) {
    super(message);
  }
}

let sink: string[] | undefined;
let installed = false;

/**
 * Emscripten binds `console.error` when an instance starts: a wrapper installed before the first
 * load forwards to the sink of the call in progress. Other lines (xgrammar's warnings) are dropped:
 * this thread has no log of its own, and they are about grammars the requests sent.
 */
function installErrorCapture(): void {
  if (installed) return;
  installed = true;
  console.error = (...args: unknown[]) => void sink?.push(args.map(String).join(" "));
}

/** Runs an xgrammar call; a failure becomes an XGrammarError with the wasm's own message. */
export async function xgCall<T>(call: () => T | Promise<T>): Promise<T> {
  const lines: string[] = [];
  sink = lines;
  try {
    return await call();
  } catch (error) {
    const fatal = lines
      .filter((line) => line.startsWith("[FATAL]"))
      .map((line) => line.replace(/^\[FATAL\]\s*\S+:\d+:\s*/, ""))
      .join(" ");
    const message = fatal || (error instanceof Error ? error.message : `xgrammar failed (${String(error)})`);
    // A C++ exception arrives as a bare number (a pointer); an abort as a RuntimeError.
    throw new XGrammarError(message, (error as Error | undefined)?.constructor?.name === "RuntimeError" || typeof error === "number");
  } finally {
    sink = undefined;
  }
}
