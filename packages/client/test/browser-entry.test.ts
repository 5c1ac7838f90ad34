// The browser entry loads in a browser as it is compiled: dist/src/index.js and every module it
// reaches import only relative ".js" files next to them (no bare specifier, no node: module,
// nothing of ws), and use no Node global. The Node entry is the only one that imports ws.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = join(dirname(fileURLToPath(import.meta.url)), "..", "src");
const IMPORT = /(?:^|[;\s])(?:import|export)\s*(?:[^'"`;]*?\sfrom\s*)?["']([^"']+)["']/g;
const DYNAMIC = /\bimport\s*\(/;
const NODE_GLOBALS = /\b(process|Buffer|require|__dirname|__filename|global)\b\s*[.(\[]/;

function specifiers(code: string): string[] {
  return [...code.matchAll(IMPORT)].map((m) => m[1]);
}

function graph(entry: string): Map<string, string> {
  const seen = new Map<string, string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const code = readFileSync(file, "utf8");
    seen.set(file, code);
    for (const spec of specifiers(code)) {
      assert.match(spec, /^\.\/[A-Za-z0-9_-]+\.js$/, `${relative(SRC, file)} imports "${spec}": only sibling modules may be imported`);
      const target = join(dirname(file), spec);
      assert.ok(existsSync(target), `${relative(SRC, file)} imports ${spec}, which is not there`);
      visit(target);
    }
  };
  visit(entry);
  return seen;
}

test("dist/src/index.js reaches only sibling modules, with no Node global and no dynamic import", () => {
  const modules = graph(join(SRC, "index.js"));
  assert.ok(modules.size >= 7, `the entry reaches ${modules.size} modules`);
  for (const [file, code] of modules) {
    const source = code.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
    assert.doesNotMatch(source, NODE_GLOBALS, `${relative(SRC, file)} uses a Node global`);
    assert.doesNotMatch(source, DYNAMIC, `${relative(SRC, file)} has a dynamic import`);
  }
  assert.ok(![...modules.keys()].some((f) => f.endsWith("node.js")), "the Node entry is not reachable from the browser entry");
});

test("the Node entry adds ws and nothing else outside the package", () => {
  const code = readFileSync(join(SRC, "node.js"), "utf8");
  assert.deepEqual(specifiers(code).filter((s) => !s.startsWith("./")), ["ws"]);
});

test("the browser entry runs in Node with an injected WebSocket class", async () => {
  const entry = await import("../src/index.js");
  assert.equal(typeof entry.ModelNodeClient, "function");
  class Never {
    readyState = 0;
    onopen = null;
    onmessage = null;
    onclose = null;
    onerror = null;
    send() {}
    close() {}
  }
  const client = new entry.ModelNodeClient("ws://x", { WebSocket: Never as never, autoConnect: false });
  assert.equal(client.state, "idle");
  await client.close();
  assert.equal(client.state, "closed");
});
