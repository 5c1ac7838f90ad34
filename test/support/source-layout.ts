/**
 * The house style's two structural rules, as functions the source-layout test runs on the
 * repository (and on small fixtures, to show that each can fail):
 *  - no import circles among the TypeScript sources: every edge counts, `import type` and
 *    `export … from` included. The graph is dpdm's, resolved with TypeScript 5's NodeNext module
 *    resolution (dpdm brings its own copy; the workspace's TypeScript 7 has no JS API), so
 *    `./x.js` finds `./x.ts` and `./x/index.ts` as tsc does.
 *  - no source file over MAX_LINES lines unless its first comment block says why, after "Long:".
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseCircular, parseDependencyTree } from "dpdm";

export const MAX_LINES = 400;

/** The TypeScript sources under `<group>/<package>/src` (e.g. packages/core/src/**), relative to `root`. */
export function sourceFiles(root: string, groups: readonly string[] = ["packages", "examples"]): string[] {
  const files: string[] = [];
  for (const group of groups) {
    if (!existsSync(join(root, group))) continue;
    for (const pkg of readdirSync(join(root, group), { withFileTypes: true })) {
      const src = join(group, pkg.name, "src");
      if (!pkg.isDirectory() || !existsSync(join(root, src))) continue;
      for (const file of readdirSync(join(root, src), { recursive: true, encoding: "utf8" })) {
        if (file.endsWith(".ts") && !file.endsWith(".d.ts")) files.push(join(src, file).split("\\").join("/"));
      }
    }
  }
  return files.sort();
}

/**
 * The circles among `files` (relative to `root`), each as the list of its files in import order.
 * Other packages (reached through node_modules or their dist/ declarations) are not followed: a
 * circle across packages cannot build anyway (tsc -b). `tsconfig`: whose module resolution to use.
 */
export async function importCircles(root: string, files: string[], tsconfig: string): Promise<string[][]> {
  const tree = await parseDependencyTree(files, {
    cwd: root,
    context: root,
    tsconfig,
    transform: false, // keep type-only imports: they count
    skipDynamicImports: false,
    exclude: /node_modules|[\\/]dist[\\/]/,
  });
  return parseCircular(tree, false);
}

/** Those of `files` (relative to `root`) over MAX_LINES lines whose first comment block gives no "Long:" reason. */
export function unexplainedLongFiles(root: string, files: string[]): { file: string; lines: number }[] {
  const found: { file: string; lines: number }[] = [];
  for (const file of files) {
    const text = readFileSync(join(root, file), "utf8");
    const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (lines > MAX_LINES && !/\bLong:[ \t]*[^\s*/]/.test(firstCommentBlock(text))) found.push({ file, lines });
  }
  return found;
}

/** The comment at the top of a file (after a #! line): one block comment, or a run of // lines. */
export function firstCommentBlock(text: string): string {
  const body = text.replace(/^#!.*\n/, "").trimStart();
  if (body.startsWith("/*")) {
    const end = body.indexOf("*/");
    return end < 0 ? body : body.slice(0, end + 2);
  }
  const match = /^(?:\/\/.*(?:\n|$))+/.exec(body);
  return match ? match[0] : "";
}
