// scripts/install-state.mjs: when `npm start` / `npm test` reinstall the workspace, and how.
// Runs on throw-away workspaces in a temp directory; nothing is installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO_ROOT } from "./support/paths.js";

interface InstallState {
  manifests: string;
  lockfile: string | null;
  scope?: "start" | "all";
}
interface InstallPlan {
  install: boolean;
  frozen?: boolean;
  record?: boolean;
  reason?: string;
  state: InstallState;
  scope?: "start" | "all";
}
interface InstallStateModule {
  STATE_FILE: string;
  workspacePatterns(root: string): string[];
  installInputs(root: string): string[];
  installPlan(root: string, options?: { ci?: boolean; scope?: "start" | "all" }): InstallPlan;
  installArgs(plan: InstallPlan): string[];
  recordState(root: string, state?: InstallState): void;
  isCI(env: Record<string, string | undefined>): boolean;
}

const lib = (await import(pathToFileURL(join(REPO_ROOT, "scripts", "install-state.mjs")).href)) as InstallStateModule;

const WORKSPACE_YAML = `packages:
  # the libraries
  - packages/*
  - "examples/*"
  - test
# settings
allowBuilds:
  esbuild: true
`;

function write(root: string, file: string, content: unknown): void {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), typeof content === "string" ? content : JSON.stringify(content, null, 2));
}

function workspace(): string {
  const root = mkdtempSync(join(tmpdir(), "install-state-"));
  write(root, "package.json", { name: "ws", private: true, packageManager: "pnpm@10.34.8", scripts: { test: "x" } });
  write(root, "pnpm-workspace.yaml", WORKSPACE_YAML);
  write(root, "pnpm-lock.yaml", "lockfileVersion: '9.0'\n");
  write(root, "packages/a/package.json", { name: "a", version: "1.0.0", dependencies: { b: "workspace:*" } });
  write(root, "packages/b/package.json", { name: "b", version: "1.0.0" });
  write(root, "examples/app/package.json", { name: "app", version: "1.0.0" });
  write(root, "test/package.json", { name: "e2e", version: "0.0.0" });
  write(root, "packages/b/node_modules/dep/package.json", { name: "dep" }); // never a workspace package
  return root;
}

/** As after an install: pnpm's marker and our record. */
function installed(root: string): void {
  write(root, "node_modules/.pnpm/lock.yaml", readFileSync(join(root, "pnpm-lock.yaml"), "utf8"));
  lib.recordState(root);
}

test("the workspace's packages come from pnpm-workspace.yaml (comments, quotes, later keys)", () => {
  const root = workspace();
  assert.deepEqual(lib.workspacePatterns(root), ["packages/*", "examples/*", "test"]);
  assert.deepEqual(lib.installInputs(root), [
    "examples/app/package.json",
    "package.json",
    "packages/a/package.json",
    "packages/b/package.json",
    "pnpm-workspace.yaml",
    "test/package.json",
  ]);
  assert.deepEqual(lib.workspacePatterns(REPO_ROOT), ["packages/*", "examples/*", "test"], "this repository's own file");
});

test("nothing installed: install with the lockfile frozen", () => {
  const plan = lib.installPlan(workspace(), { ci: false });
  assert.equal(plan.install, true);
  assert.equal(plan.frozen, true);
  assert.equal(plan.reason, "nothing installed yet");
  assert.deepEqual(lib.installArgs(plan).slice(0, 2), ["install", "--frozen-lockfile"]);
});

test("an install without a record (made before it existed) is adopted, not redone", () => {
  const root = workspace();
  write(root, "node_modules/.pnpm/lock.yaml", "lockfileVersion: '9.0'\n");
  const plan = lib.installPlan(root, { ci: false });
  assert.deepEqual([plan.install, plan.record], [false, true]);
  lib.recordState(root, plan.state);
  assert.deepEqual([lib.installPlan(root, { ci: false }).install, lib.installPlan(root, { ci: false }).record], [false, false]);
  assert.match(readFileSync(join(root, lib.STATE_FILE), "utf8"), /"manifests":"[0-9a-f]{64}"/);
});

test("a dependency added to a package.json: install without --frozen-lockfile (frozen in CI)", () => {
  const root = workspace();
  installed(root);
  assert.equal(lib.installPlan(root, { ci: false }).install, false);
  write(root, "packages/b/package.json", { name: "b", version: "1.0.0", dependencies: { zod: "4.6.7" } });
  const plan = lib.installPlan(root, { ci: false });
  assert.equal(plan.install, true);
  assert.equal(plan.frozen, false);
  assert.equal(plan.reason, "a workspace package.json or pnpm-workspace.yaml changed");
  assert.deepEqual(lib.installArgs(plan), ["install", "--no-frozen-lockfile", "--config.update-notifier=false", "--config.confirm-modules-purge=false"]);
  assert.equal(lib.installPlan(root, { ci: true }).frozen, true);
  lib.recordState(root);
  assert.equal(lib.installPlan(root, { ci: false }).install, false, "recorded after the install");
});

test("a new workspace package, or a changed pnpm-workspace.yaml, is noticed too", () => {
  const root = workspace();
  installed(root);
  write(root, "packages/c/package.json", { name: "c", version: "0.1.0" });
  assert.deepEqual([lib.installPlan(root, { ci: false }).install, lib.installPlan(root, { ci: false }).frozen], [true, false]);
  installed(root);
  write(root, "pnpm-workspace.yaml", WORKSPACE_YAML.replace("esbuild: true", "esbuild: false"));
  assert.equal(lib.installPlan(root, { ci: false }).install, true);
});

test("edits an install does not depend on (scripts, description) do not reinstall", () => {
  const root = workspace();
  installed(root);
  write(root, "package.json", { name: "ws", private: true, packageManager: "pnpm@10.34.8", scripts: { test: "y", start: "z" } });
  write(root, "packages/b/package.json", { name: "b", version: "1.0.0", description: "now described", exports: "./x.js" });
  assert.equal(lib.installPlan(root, { ci: false }).install, false);
});

test("only pnpm-lock.yaml changed (e.g. a pull): install with the lockfile frozen", () => {
  const root = workspace();
  installed(root);
  write(root, "pnpm-lock.yaml", "lockfileVersion: '9.0'\n# changed\n");
  const plan = lib.installPlan(root, { ci: false });
  assert.deepEqual([plan.install, plan.frozen, plan.reason], [true, true, "pnpm-lock.yaml changed"]);
});

test("CI is set unless empty, 0 or false", () => {
  assert.equal(lib.isCI({ CI: "true" }), true);
  assert.equal(lib.isCI({ CI: "1" }), true);
  assert.equal(lib.isCI({}), false);
  assert.equal(lib.isCI({ CI: "false" }), false);
  assert.equal(lib.isCI({ CI: "0" }), false);
});

test("npm start installs only what the node needs; npm test then completes the install; a full install is never narrowed", () => {
  const root = workspace();
  const first = lib.installPlan(root, { scope: "start" });
  assert.equal(first.install, true);
  assert.equal(first.scope, "start");
  const args = lib.installArgs(first);
  assert.deepEqual(args.slice(args.indexOf("--filter")), ["--filter", "@modelnode/example-model-node...", "--filter", "@modelnode/model-builder", "--filter", "modelnode"]);
  // After that install: start has what it needs; test does not.
  write(root, "node_modules/.pnpm/lock.yaml", "x");
  lib.recordState(root, { ...first.state, scope: "start" });
  assert.equal(lib.installPlan(root, { scope: "start" }).install, false);
  const forTests = lib.installPlan(root, { scope: "all" });
  assert.equal(forTests.install, true);
  assert.equal(forTests.scope, "all");
  assert.ok(!lib.installArgs(forTests).includes("--filter"));
  assert.match(forTests.reason ?? "", /tests' dependencies/);
  // Once everything is installed, a later start (even after a manifest change) keeps everything.
  lib.recordState(root, { ...forTests.state, scope: "all" });
  write(root, "packages/a/package.json", { name: "a", version: "1.0.0", dependencies: { b: "workspace:*", zod: "4.0.0" } });
  const later = lib.installPlan(root, { scope: "start" });
  assert.equal(later.install, true);
  assert.equal(later.scope, "all");
  assert.ok(!lib.installArgs(later).includes("--filter"));
});
