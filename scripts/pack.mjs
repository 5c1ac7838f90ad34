// `npm run pack` (scripts/dev.mjs pack): every publishable @modelnode package as the tarball
// `npm publish` would upload, all in one folder, for projects outside this repository to
// `npm install` until the packages are on the registry (docs/publishing.md). pnpm packs them,
// so `workspace:*` ranges become the real versions; each package's prepack (tsc -b) has nothing
// left to do, since dev.mjs builds the workspace first.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

export const PACK_HELP = `Usage: npm run pack [-- --out DIR]
       node scripts/dev.mjs pack [--out DIR]

Builds the workspace and packs every publishable @modelnode package (those not marked
"private") with pnpm pack, into one folder; prints each tarball's path, one a line.
Running it again replaces the tarballs (older versions of the same packages included).

  --out DIR   where the tarballs go (default: dist-packages/ at the repository root)
  --help      this text

Then, in a project outside this repository:
  npm install /path/to/dist-packages/modelnode-core-0.1.0.tgz ...
See docs/publishing.md.`;

/**
 * `{ help: true }`, `{ out }` (absolute), or `{ error }` for arguments it does not understand.
 * A relative --out is taken from where the command was typed: under `npm run pack` that is
 * INIT_CWD (npm runs scripts at the repository root).
 */
export function parsePackArgs(args, root, cwd = (process.env.npm_lifecycle_event === "pack" && process.env.INIT_CWD) || process.cwd()) {
  let out = join(root, "dist-packages");
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") return { help: true };
    if (arg === "--out" || arg.startsWith("--out=")) {
      const value = arg === "--out" ? args[++i] : arg.slice("--out=".length);
      if (!value) return { error: "--out needs a folder" };
      out = resolve(cwd, value);
    } else return { error: `unknown option "${arg}"` };
  }
  return { out };
}

/** The file pnpm/npm pack names a package's tarball. */
export function tarballName(name, version) {
  return `${tarballStem(name)}-${version}.tgz`;
}
function tarballStem(name) {
  return name.replace(/^@/, "").replace("/", "-");
}

function pnpmJson(pnpm, args, root) {
  const [cmd, pre] = pnpm;
  const r = spawnSync(cmd, [...pre, ...args], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`pnpm ${args.join(" ")} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The workspace's packages that are not `private`, as pnpm sees them: name, version, dir. */
export function publishablePackages(root, pnpm) {
  return pnpmJson(pnpm, ["ls", "-r", "--depth", "-1", "--json"], root)
    .filter((p) => !p.private && p.version)
    .map((p) => ({ name: p.name, version: p.version, dir: p.path }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Packs `packages` into `out` and returns the tarballs' paths. Tarballs of these packages
 * already there (any version) are removed first, so the folder holds one of each; nothing
 * else in it is touched. pnpm's output (a file list per package) is shown only if it fails.
 */
export function packAll(root, out, pnpm, packages) {
  mkdirSync(out, { recursive: true });
  const stems = new Set(packages.map((p) => tarballStem(p.name)));
  for (const file of readdirSync(out)) {
    const match = /^(.+?)-\d+\.\d+\.\d+[^/]*\.tgz$/.exec(file);
    if (match && stems.has(match[1])) {
      rmSync(join(out, file), { force: true });
    }
  }
  const [cmd, pre] = pnpm;
  const filters = packages.flatMap((p) => ["--filter", p.name]);
  const r = spawnSync(cmd, [...pre, ...filters, "pack", "--pack-destination", out], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`pnpm pack failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  const tarballs = packages.map((p) => join(out, tarballName(p.name, p.version)));
  const missing = tarballs.filter((file) => !existsSync(file));
  if (missing.length > 0) throw new Error(`pnpm pack made no ${missing.join(", ")}:\n${r.stdout}${r.stderr}`);
  return tarballs;
}
