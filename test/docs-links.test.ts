// Every relative link and anchor in the READMEs and docs/ resolves, as on GitHub (see
// support/docs-links.ts for what counts). The check is first run on a small fixture with links
// of each kind, broken and not, so that a check that can no longer fail is noticed too.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type BrokenLink, brokenLinks, markdownAnchors, markdownFiles, strayReferences } from "./support/docs-links.js";
import { REPO_ROOT } from "./support/paths.js";

const described = (found: BrokenLink[]) => found.map(({ file, line, url, why }) => `${file}:${line} ${url} — ${why}`);

const fixture = mkdtempSync(join(tmpdir(), "modelnode-links-"));
after(() => rmSync(fixture, { recursive: true, force: true }));

function write(files: Record<string, string>): void {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(fixture, file)), { recursive: true });
    writeFileSync(join(fixture, file), text);
  }
}

write({
  "README.md": [
    "# Project",
    "See [the guide](docs/guide.md), [its setup](docs/guide.md#2-set-up-modelnodecore),",
    "[the toolchain](TOOLCHAIN.md) and [a lost section](docs/guide.md#9-publishing).",
    "[Shared notes](../shared/TOOLCHAIN.md) are not part of the repository.",
    "[Web](https://example.com/missing.md) and [mail](mailto:a@example.com) are not checked.",
    "A [reference][ref] and an ![image](docs/missing.png).",
    "",
    "[ref]: docs/nowhere.md",
    "",
    "```md",
    "[inside a code block](not-checked.md)",
    "```",
    "",
    "Nor `[in a code span](#not-a-heading)`.",
    "Prose names TOOLCHAIN.md, `docs/guide.md`, README.md and (see guide.md); section 9 covers it.",
    "[Section 2 of the guide](docs/guide.md#2-set-up-modelnodecore) is a link, not a stray citation.",
    '<a href="docs/gone.md">raw HTML</a>',
    "",
  ].join("\n"),
  "docs/guide.md": [
    "# Guide",
    "## 2. Set up `@modelnode/core`",
    "## Notes",
    "## Notes",
    '<a id="custom-anchor"></a>',
    "Back to [the top](#guide), [the second notes](#notes-1), [a custom anchor](#custom-anchor),",
    "[a missing one](#notes-2), [the README](../README.md#project), [a folder](../packages/core/),",
    "[a source line](../packages/core/index.ts#L3), [from the root](/docs/guide.md#notes).",
    "",
  ].join("\n"),
  "packages/core/README.md": "# core\n[Up](../../docs/guide.md#Notes)\n",
  "packages/core/index.ts": "export {};\n",
  "packages/core/src/deep/README.md": "[Broken](../nothing.md)\n",
  "packages/core/src/deep/notes.md": "[Not a README: not checked](nothing.md)\n",
  "examples/e/README.md": "[fine](../../README.md)\n",
  "docs/extra.txt": "[not markdown](nothing.md)\n",
});

test("the files checked: the root README, docs/*.md, and the READMEs of packages, their src, and examples", () => {
  assert.deepEqual(markdownFiles(fixture), [
    "README.md",
    "docs/guide.md",
    "examples/e/README.md",
    "packages/core/README.md",
    "packages/core/src/deep/README.md",
  ]);
});

test("anchors are GitHub's heading slugs, repeated headings numbered, plus HTML ids", () => {
  const anchors = markdownAnchors("# A `b` c\n## Ünïcode & Co.\n## A b c\n<a name=\"x\"></a>\n```\n# not a heading\n```\n");
  assert.deepEqual([...anchors].sort(), ["a-b-c", "a-b-c-1", "x", "ünïcode--co"]);
});

test("the link check finds missing files, missing anchors and links out of the repository, and nothing else", () => {
  assert.deepEqual(described(brokenLinks(fixture, markdownFiles(fixture))), [
    "README.md:3 TOOLCHAIN.md — no such file: TOOLCHAIN.md",
    "README.md:3 docs/guide.md#9-publishing — no heading with the slug #9-publishing in docs/guide.md",
    "README.md:4 ../shared/TOOLCHAIN.md — points outside the repository",
    "README.md:6 docs/missing.png — no such file: docs/missing.png",
    "README.md:8 docs/nowhere.md — no such file: docs/nowhere.md",
    "README.md:17 docs/gone.md — no such file: docs/gone.md",
    "docs/guide.md:7 #notes-2 — no heading with the slug #notes-2 in docs/guide.md",
    "packages/core/README.md:2 ../../docs/guide.md#Notes — no heading with the slug #Notes in docs/guide.md",
    "packages/core/src/deep/README.md:1 ../nothing.md — no such file: packages/core/src/nothing.md",
  ]);
});

test("prose that names a missing file, or cites a section by number, is found too", () => {
  assert.deepEqual(described(strayReferences(fixture, markdownFiles(fixture))), [
    "README.md:15 TOOLCHAIN.md — names a file the repository does not have",
    "README.md:15 section 9 — cites a section by number: link to its heading instead",
  ]);
});

test("every relative link and anchor in the repository's READMEs and docs resolves", () => {
  const files = markdownFiles(REPO_ROOT);
  assert.ok(files.includes("README.md") && files.includes("docs/plugins.md") && files.includes("packages/onnx/src/engine/README.md"), files.join(", "));
  assert.deepEqual(described(brokenLinks(REPO_ROOT, files)), []);
});

test("the repository's READMEs and docs name no missing file and cite sections by link", () => {
  assert.deepEqual(described(strayReferences(REPO_ROOT, markdownFiles(REPO_ROOT))), []);
});
