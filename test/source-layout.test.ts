// The house style's structural rules over the whole repository (packages/*/src, examples/*/src):
// no import circles, type-only imports and re-exports included; no file over 400 lines unless its
// first comment block says why after "Long:". The checks are first run on small fixtures, so that
// a check that can no longer fail is noticed too.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { firstCommentBlock, importCircles, MAX_LINES, sourceFiles, unexplainedLongFiles } from "./support/source-layout.js";
import { REPO_ROOT } from "./support/paths.js";

const TSCONFIG = join(REPO_ROOT, "tsconfig.base.json");

const fixture = mkdtempSync(join(tmpdir(), "modelnode-layout-"));
after(() => rmSync(fixture, { recursive: true, force: true }));

function write(files: Record<string, string>): void {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(fixture, file)), { recursive: true });
    writeFileSync(join(fixture, file), text);
  }
}
const lines = (n: number) => "export const x = 1;\n".repeat(n);

write({
  // a circle made of a type-only import and a type re-export
  "packages/a/src/types.ts": 'import type { B } from "./other.js";\nexport type A = B[];\n',
  "packages/a/src/other.ts": 'export type { A } from "./types.js";\nexport type B = 1;\n',
  // a circle through a folder's index.ts and `export *`
  "packages/a/src/user.ts": 'import { y } from "./folder/index.js";\nexport const u = y;\n',
  "packages/a/src/folder/index.ts": 'export * from "../user.js";\nexport const y = 1;\n',
  // no circle: a chain, and a package import (not followed)
  "examples/e/src/one.ts": 'import { two } from "./two.js";\nimport { z } from "@modelnode/core";\nexport const one = two + String(z);\n',
  "examples/e/src/two.ts": "export const two = 2;\n",
  // long files
  "examples/e/src/long-unexplained.ts": `/** Does many things. */\n${lines(MAX_LINES)}`,
  "examples/e/src/long-explained.ts": `/**\n * Does one thing.\n * Long: one table of every code, kept whole so it reads as one.\n */\n${lines(MAX_LINES)}`,
  "examples/e/src/long-reason-elsewhere.ts": `// Does one thing.\n${lines(MAX_LINES)}/* Long: too late, not in the first comment. */\n`,
  "examples/e/src/long-no-reason.ts": `// Long:\n${lines(MAX_LINES)}`,
  "examples/e/src/exactly-max.ts": lines(MAX_LINES),
  "examples/e/src/types.d.ts": lines(MAX_LINES + 1),
  "examples/e/test/outside-src.ts": lines(MAX_LINES + 1),
});

test("the circle check finds circles of type-only imports, re-exports and folder indexes, and nothing else", async () => {
  const files = sourceFiles(fixture);
  assert.ok(files.includes("packages/a/src/folder/index.ts") && !files.includes("examples/e/src/types.d.ts"), files.join(", "));
  assert.ok(!files.some((file) => file.includes("/test/")));
  const circles = (await importCircles(fixture, files, TSCONFIG)).map((circle) => [...circle].sort().join(" ⇄ ")).sort();
  assert.deepEqual(circles, [
    "packages/a/src/folder/index.ts ⇄ packages/a/src/user.ts",
    "packages/a/src/other.ts ⇄ packages/a/src/types.ts",
  ]);
});

test("the length check finds files over the limit without a reason after Long: in their first comment", () => {
  const long = unexplainedLongFiles(fixture, sourceFiles(fixture));
  assert.deepEqual(long, [
    { file: "examples/e/src/long-no-reason.ts", lines: MAX_LINES + 1 },
    { file: "examples/e/src/long-reason-elsewhere.ts", lines: MAX_LINES + 2 },
    { file: "examples/e/src/long-unexplained.ts", lines: MAX_LINES + 1 },
  ]);
  assert.equal(firstCommentBlock("#!/usr/bin/env node\n// a\n// b\ncode // c\n"), "// a\n// b\n");
});

test("no import circles among the sources of packages/*/src and examples/*/src", async () => {
  const files = sourceFiles(REPO_ROOT);
  assert.ok(files.length > 100, `found ${files.length} source files`);
  const circles = await importCircles(REPO_ROOT, files, TSCONFIG);
  assert.deepEqual(circles.map((circle) => [...circle, circle[0]].join(" → ")), []);
});

test(`no source file over ${MAX_LINES} lines without a "Long:" reason in its first comment block`, () => {
  const long = unexplainedLongFiles(REPO_ROOT, sourceFiles(REPO_ROOT));
  assert.deepEqual(long.map(({ file, lines }) => `${file}: ${lines} lines`), []);
});
