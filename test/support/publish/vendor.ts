/**
 * Third-party packages for an offline install: the workspace's installed copies (pnpm's
 * node_modules/.pnpm/<name>@<version>/node_modules/<name>, whose own dependencies are its
 * siblings), each packed into a tarball that npm installs as a `file:` dependency. Listing the
 * whole closure at the top of the project lets npm satisfy every transitive range from these,
 * without a registry.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { run, tarballName } from "./commands.js";
import { REPO_ROOT } from "../paths.js";

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface VendoredPackage {
  name: string;
  version: string;
  dir: string;
}

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
}

/** Where Node would find `name` from `fromDir` (node_modules in it and above), symlinks resolved. */
function resolvePackageDir(fromDir: string, name: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Every package that `names` (resolved from `fromDir`) need at run time: dependencies, optional
 * dependencies that are installed, and peer dependencies that are not optional. One version per
 * name: a project's top-level `file:` dependencies cannot hold two.
 */
export function dependencyClosure(roots: { fromDir: string; names: string[] }[]): VendoredPackage[] {
  const found = new Map<string, VendoredPackage>();
  const visit = (fromDir: string, name: string, optional: boolean, via: string): void => {
    const dir = resolvePackageDir(fromDir, name);
    if (dir === undefined) {
      if (optional) return;
      throw new Error(`${name} (needed by ${via}) is not installed in the workspace; run the workspace install first`);
    }
    const manifest = readManifest(dir);
    const known = found.get(manifest.name);
    if (known) {
      if (known.version !== manifest.version) {
        throw new Error(`two versions of ${manifest.name} are needed (${known.version}, ${manifest.version} via ${via}); an offline install from file: tarballs can hold only one`);
      }
      return;
    }
    found.set(manifest.name, { name: manifest.name, version: manifest.version, dir });
    const here = `${manifest.name}@${manifest.version}`;
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dir, dep, false, here);
    for (const dep of Object.keys(manifest.optionalDependencies ?? {})) visit(dir, dep, true, here);
    for (const dep of Object.keys(manifest.peerDependencies ?? {})) {
      if (!manifest.peerDependenciesMeta?.[dep]?.optional) visit(dir, dep, false, here);
    }
  };
  for (const root of roots) for (const name of root.names) visit(root.fromDir, name, false, root.fromDir.replace(REPO_ROOT, "<repo>"));
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Packs an installed package directory the way npm pack lays a tarball out (one top-level
 * `package/` folder). It is copied first: pnpm's store hard-links files of equal content, tar
 * records the second of two such files as a hard link, and npm skips hard links when it unpacks
 * (zod 4 would lose its index.js). `npm pack <dir>` is not used: npm 11 crashes on some installed
 * packages ("Exit handler never called!" on zod 4), and tar is quicker for twenty of them.
 */
export async function packInstalled(pkg: VendoredPackage, destination: string): Promise<string> {
  const tarball = join(destination, tarballName(pkg.name, pkg.version));
  const stage = mkdtempSync(join(destination, ".stage-"));
  try {
    cpSync(pkg.dir, join(stage, "package"), { recursive: true, dereference: true, filter: (src) => basename(src) !== "node_modules" });
    await run("tar", ["-czf", tarball, "-C", stage, "package"], { cwd: destination });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return tarball;
}
