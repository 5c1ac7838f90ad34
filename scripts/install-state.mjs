// When `npm start` / `npm test` must (re)install the workspace, and how (scripts/dev.mjs uses it).
//
// An install is recorded in node_modules/.modelnode-install-hash: a hash of what pnpm installs
// from (the install-relevant fields of every workspace package.json, pnpm-workspace.yaml, .npmrc)
// and a hash of pnpm-lock.yaml. The next run compares:
//   - nothing installed yet                  → install with --frozen-lockfile (the lockfile rules);
//   - a manifest changed (a package added,   → install without --frozen-lockfile, so pnpm links the
//     a dependency added or removed)           new package and updates pnpm-lock.yaml (frozen in CI,
//                                              where an outdated lockfile must fail);
//   - only pnpm-lock.yaml changed (a pull)   → install with --frozen-lockfile;
//   - nothing changed                        → no install.
// An install made before this record existed (or by hand) is taken as current and recorded.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

export const STATE_FILE = join("node_modules", ".modelnode-install-hash");
/** pnpm's copy of the lockfile as of the last install: present once something was installed. */
export const INSTALL_MARKER = join("node_modules", ".pnpm", "lock.yaml");
const DEFAULT_PATTERNS = ["packages/*", "examples/*", "test"];
/** The package.json fields an install depends on; scripts, descriptions, exports… are left out. */
const INSTALL_FIELDS = [
  "name",
  "version",
  "dependencies",
  "devDependencies",
  "optionalDependencies",
  "peerDependencies",
  "peerDependenciesMeta",
  "dependenciesMeta",
  "bundledDependencies",
  "bin",
  "directories",
  "engines",
  "os",
  "cpu",
  "packageManager",
  "pnpm",
  "resolutions",
  "overrides",
];

/** The package patterns listed under `packages:` in pnpm-workspace.yaml ("dir/*", "dir/**", "dir"). */
export function workspacePatterns(root) {
  let text;
  try {
    text = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
  } catch {
    return DEFAULT_PATTERNS;
  }
  const patterns = [];
  let inPackages = false;
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*(#|$)/.test(line)) continue;
    if (/^packages:\s*(#.*)?$/.test(line)) {
      inPackages = true;
    } else if (/^\S/.test(line)) {
      inPackages = false; // the next top-level key
    } else if (inPackages) {
      const item = /^\s*-\s*(["']?)([^"'#\s]+)\1/.exec(line);
      if (item) patterns.push(item[2]);
    }
  }
  return patterns.length > 0 ? patterns : DEFAULT_PATTERNS;
}

/** The files an install depends on besides the lockfile, relative to root, sorted. */
export function installInputs(root) {
  const files = new Set(["package.json", "pnpm-workspace.yaml", ".npmrc"].filter((f) => existsSync(join(root, f))));
  for (const pattern of workspacePatterns(root)) {
    if (pattern.startsWith("!")) continue;
    for (const dir of expand(root, pattern)) {
      const manifest = join(dir, "package.json");
      if (existsSync(manifest)) files.add(relative(root, manifest).split(sep).join("/"));
    }
  }
  return [...files].sort();
}

function expand(root, pattern) {
  const parts = pattern.replace(/\/+$/, "").split("/");
  if (parts.at(-1) === "**") return subdirs(join(root, ...parts.slice(0, -1)), true);
  if (parts.at(-1) === "*") return subdirs(join(root, ...parts.slice(0, -1)), false);
  return [join(root, ...parts)];
}

function subdirs(dir, deep, out = []) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    out.push(join(dir, entry.name));
    if (deep) subdirs(join(dir, entry.name), true, out);
  }
  return out;
}

/** What a package.json contributes to the hash: its install fields (the raw text when it is not JSON). */
function manifestDigest(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    return text;
  }
  if (typeof data !== "object" || data === null) return text;
  return JSON.stringify(INSTALL_FIELDS.map((field) => [field, data[field] ?? null]));
}

/** A hash of everything installInputs() lists. */
export function manifestsHash(root) {
  const hash = createHash("sha256");
  for (const file of installInputs(root)) {
    const text = readFileSync(join(root, file), "utf8");
    hash.update(`${file}\0${file.endsWith("package.json") ? manifestDigest(text) : text}\0`);
  }
  return hash.digest("hex");
}

export function lockfileHash(root) {
  const lock = join(root, "pnpm-lock.yaml");
  return existsSync(lock) ? createHash("sha256").update(readFileSync(lock)).digest("hex") : null;
}

/** The state to record after an install (or to compare with the recorded one). */
export function currentState(root) {
  return { manifests: manifestsHash(root), lockfile: lockfileHash(root) };
}

/** The recorded state, or undefined when there is none (or it cannot be read). */
export function readState(root) {
  try {
    const state = JSON.parse(readFileSync(join(root, STATE_FILE), "utf8"));
    return typeof state?.manifests === "string" ? state : undefined;
  } catch {
    return undefined;
  }
}

export function recordState(root, state = currentState(root)) {
  writeFileSync(join(root, STATE_FILE), `${JSON.stringify(state)}\n`);
}

/** Whether `CI` says this is a CI run (set, and not "", "0" or "false"). */
export function isCI(env = process.env) {
  const value = (env.CI ?? "").trim().toLowerCase();
  return value !== "" && value !== "0" && value !== "false";
}

/**
 * What `npm start` needs installed: the example node and what it depends on, and the model builder
 * that writes its bundled model (not the tests' peer runtimes).
 */
export const START_FILTERS = ["@modelnode/example-model-node...", "@modelnode/model-builder", "modelnode"];

/**
 * What to do: `{ install: false, record }` (record: adopt an install that has no record yet), or
 * `{ install: true, frozen, reason }`. `scope` "start" asks only for what the example node needs
 * (an install of everything counts as one); "all" for everything (tests, benches).
 */
export function installPlan(root, { ci = isCI(), scope = "all" } = {}) {
  // Nothing installed: nothing to keep. Installed without a scope on record: it was everything.
  const recordedScope = existsSync(join(root, INSTALL_MARKER)) ? (readState(root)?.scope ?? "all") : "none";
  // Never narrow an install that has everything: a filtered install would prune the rest.
  const wanted = scope === "all" || recordedScope === "all" ? "all" : "start";
  const plan = basePlan(root, ci);
  if (!plan.install && recordedScope === "start" && scope === "all") {
    return { install: true, frozen: plan.state.lockfile !== null, reason: "the tests' dependencies are not installed yet (npm start installs only the node's)", state: plan.state, scope: "all" };
  }
  return { ...plan, scope: wanted };
}

function basePlan(root, ci) {
  const state = currentState(root);
  const hasLockfile = state.lockfile !== null;
  const marker = join(root, INSTALL_MARKER);
  if (!existsSync(marker)) return { install: true, frozen: hasLockfile, reason: "nothing installed yet", state };
  const recorded = readState(root);
  if (recorded === undefined) {
    // Installed before this record existed: trust it, unless pnpm-lock.yaml is newer (as before).
    const lockNewer = hasLockfile && statSync(marker).mtimeMs < statSync(join(root, "pnpm-lock.yaml")).mtimeMs;
    if (lockNewer) return { install: true, frozen: true, reason: "pnpm-lock.yaml changed", state };
    return { install: false, record: true, state };
  }
  if (recorded.manifests !== state.manifests) {
    return {
      install: true,
      frozen: ci && hasLockfile,
      reason: "a workspace package.json or pnpm-workspace.yaml changed",
      state,
    };
  }
  if (recorded.lockfile !== state.lockfile) return { install: true, frozen: hasLockfile, reason: "pnpm-lock.yaml changed", state };
  return { install: false, record: false, state };
}

/** pnpm's install arguments for a plan (quiet about pnpm updates; never stops to ask before re-creating node_modules). */
export function installArgs(plan) {
  return [
    "install",
    plan.frozen ? "--frozen-lockfile" : "--no-frozen-lockfile",
    "--config.update-notifier=false",
    "--config.confirm-modules-purge=false",
    ...(plan.scope === "start" ? START_FILTERS.flatMap((filter) => ["--filter", filter]) : []),
  ];
}
