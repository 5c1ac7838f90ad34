/**
 * Checks the repository's markdown links the way GitHub reads them: every relative link (text,
 * image, reference definition, and href/src in raw HTML) must name a file or folder inside the
 * repository, and every anchor (`file.md#heading`, `#heading`) a heading's slug in its target
 * (github-slugger, the same numbering of repeated headings as GitHub's) or an explicit HTML id.
 * The markdown is parsed (mdast), so that a link shown inside a code block or a code span is not
 * taken for one. Links with a scheme (http, https, mailto, …) are not checked. Prose that names a
 * file or cites a section by number without a link is checked too (strayReferences): a newcomer
 * follows those as well.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import GithubSlugger from "github-slugger";
import { fromMarkdown } from "mdast-util-from-markdown";
import { toString } from "mdast-util-to-string";

type MdNode = ReturnType<typeof fromMarkdown> | ReturnType<typeof fromMarkdown>["children"][number];

export interface MarkdownLink {
  url: string;
  line: number;
}
/** A markdown file named in prose (`see TOOLCHAIN.md`) rather than linked. */
export interface NamedFile {
  name: string;
  line: number;
}
export interface BrokenLink {
  /** The markdown file, relative to the root, with forward slashes. */
  file: string;
  line: number;
  url: string;
  why: string;
}

/** The files whose links are checked: the READMEs a newcomer reads and docs/. */
export function markdownFiles(root: string): string[] {
  const out: string[] = [];
  const add = (file: string) => existsSync(join(root, file)) && out.push(file);
  const dirs = (dir: string) =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${dir}/${e.name}`)
      : [];
  const readmesUnder = (dir: string) => {
    if (!existsSync(join(root, dir))) return;
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) readmesUnder(path);
      else if (entry.name === "README.md") out.push(path);
    }
  };
  add("README.md");
  if (existsSync(join(root, "docs"))) {
    for (const name of readdirSync(join(root, "docs"))) if (name.endsWith(".md")) out.push(`docs/${name}`);
  }
  for (const pkg of dirs("packages")) {
    add(`${pkg}/README.md`);
    readmesUnder(`${pkg}/src`);
  }
  for (const example of dirs("examples")) add(`${example}/README.md`);
  return out.sort();
}

function walk(node: MdNode, visit: (node: MdNode) => void): void {
  visit(node);
  if ("children" in node) for (const child of node.children) walk(child as MdNode, visit);
}

const HTML_URL = /\b(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi;
const HTML_ID = /\b(?:id|name)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi;

/** The links of a markdown text, with their lines; none from code blocks or code spans. */
export function markdownLinks(text: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  walk(fromMarkdown(text), (node) => {
    const line = node.position?.start.line ?? 0;
    if (node.type === "link" || node.type === "image" || node.type === "definition") links.push({ url: node.url, line });
    else if (node.type === "html") {
      for (const m of node.value.matchAll(HTML_URL)) links.push({ url: m[1] ?? m[2], line });
    }
  });
  return links;
}

const MD_NAME = /(?<![\w./-])((?:\.{1,2}\/|[\w-]+\/)*[\w.-]+\.md)(?![\w/-])/g;
const SECTION_NUMBER = /\bsections? \d+\b|§ ?\d+/gi;

/**
 * What prose outside links says about other documents: the markdown files it names (in text or a
 * code span, not in code blocks), and sections it cites by number ("section 9"), which a link to
 * the heading would let this check follow.
 */
export function proseReferences(text: string): { names: NamedFile[]; sections: NamedFile[] } {
  const names: NamedFile[] = [];
  const sections: NamedFile[] = [];
  const visit = (node: MdNode) => {
    if (node.type === "link" || node.type === "linkReference" || node.type === "code") return;
    const line = node.position?.start.line ?? 0;
    if (node.type === "text" || node.type === "inlineCode") {
      // A text node may span lines: count them up to the match.
      const at = (index: number) => line + (node.value.slice(0, index).match(/\n/g)?.length ?? 0);
      for (const m of node.value.matchAll(MD_NAME)) names.push({ name: m[1], line: at(m.index) });
      if (node.type === "text") for (const m of node.value.matchAll(SECTION_NUMBER)) sections.push({ name: m[0], line: at(m.index) });
    }
    if ("children" in node) for (const child of node.children) visit(child as MdNode);
  };
  visit(fromMarkdown(text));
  return { names, sections };
}

/** The anchors a markdown text offers: its headings' GitHub slugs and any HTML id or name. */
export function markdownAnchors(text: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  walk(fromMarkdown(text), (node) => {
    if (node.type === "heading") anchors.add(slugger.slug(toString(node)));
    else if (node.type === "html") {
      for (const m of node.value.matchAll(HTML_ID)) anchors.add(m[1] ?? m[2]);
    }
  });
  return anchors;
}

const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:|^\/\//i;

/** What is wrong with each relative link of `files` (paths relative to `root`); [] when none. */
export function brokenLinks(root: string, files: string[]): BrokenLink[] {
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (abs: string) => {
    let set = anchorsOf.get(abs);
    if (!set) anchorsOf.set(abs, (set = markdownAnchors(readFileSync(abs, "utf8"))));
    return set;
  };
  const broken: BrokenLink[] = [];
  for (const file of files) {
    const abs = join(root, file);
    for (const { url, line } of markdownLinks(readFileSync(abs, "utf8"))) {
      if (url === "" || HAS_SCHEME.test(url)) continue;
      const fail = (why: string) => broken.push({ file: toPosix(file), line, url, why });
      const hash = url.indexOf("#");
      const pathPart = decodeURIComponent(hash === -1 ? url : url.slice(0, hash));
      const anchor = hash === -1 ? undefined : decodeURIComponent(url.slice(hash + 1));
      // GitHub reads a leading "/" as the repository's root.
      const target = pathPart === "" ? abs : pathPart.startsWith("/") ? join(root, pathPart) : resolve(dirname(abs), pathPart);
      const inside = relative(root, target);
      if (inside.startsWith("..") || resolve(root, inside) !== target) {
        fail("points outside the repository");
        continue;
      }
      if (!existsSync(target)) {
        fail(`no such file: ${toPosix(inside)}`);
        continue;
      }
      // Anchors are checked in markdown targets; a source file's #L12 is GitHub's own.
      if (anchor !== undefined && target.endsWith(".md") && statSync(target).isFile() && !anchors(target).has(anchor)) {
        fail(`no heading with the slug #${anchor} in ${toPosix(inside)}`);
      }
    }
  }
  return broken;
}

/**
 * What prose says about other documents without a link: each file it names must be one of the
 * repository's (next to the text, at the root, or in docs/, where a README's "plugins.md"
 * lives), and a section cited by number should be a link to its heading, which brokenLinks follows.
 */
export function strayReferences(root: string, files: string[]): BrokenLink[] {
  const found: BrokenLink[] = [];
  for (const file of files) {
    const abs = join(root, file);
    const { names, sections } = proseReferences(readFileSync(abs, "utf8"));
    for (const { name, line } of names) {
      const candidates = [resolve(dirname(abs), name), join(root, name), join(root, "docs", name)];
      if (!candidates.some((c) => !relative(root, c).startsWith("..") && existsSync(c))) {
        found.push({ file: toPosix(file), line, url: name, why: "names a file the repository does not have" });
      }
    }
    for (const { name, line } of sections) {
      found.push({ file: toPosix(file), line, url: name, why: "cites a section by number: link to its heading instead" });
    }
  }
  return found;
}

const toPosix = (path: string) => path.split(sep).join("/");
