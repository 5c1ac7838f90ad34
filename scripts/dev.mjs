#!/usr/bin/env node
// One entry point for the README's commands, so that a fresh machine with only Node 20 and npm
// needs nothing else: `npm start` / `npm test` (or the same through pnpm) install the workspace
// with the pinned pnpm when needed (first run, a changed lockfile, or a workspace package or
// dependency added: see install-state.mjs), build it incrementally (tsc -b, then the bundled
// model), and run what was asked.
//
//   node scripts/dev.mjs start [--port N ...]   build, then run the example node
//   node scripts/dev.mjs test [files...]        build, then run every test (node --test)
//   node scripts/dev.mjs build                  install if needed, build
//   node scripts/dev.mjs prepare                what `npm install` at the root runs: the same as build
//   node scripts/dev.mjs bench [dispatch|load|nats|structured|prefix|speculative] [bench options]
//   node scripts/dev.mjs build-model [options]  build, then run the test-model builder (--help)
//   node scripts/dev.mjs pull org/name[:dtype]  build, then pull a model from the Hugging Face Hub (--help)
//   node scripts/dev.mjs pack [--out DIR]       build, then pack the publishable packages (pack.mjs)
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { constants as osConstants } from "node:os";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { currentState, installArgs, installPlan, recordState } from "./install-state.mjs";
import { PACK_HELP, packAll, parsePackArgs, publishablePackages } from "./pack.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PNPM_VERSION = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager.split("@")[1];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}
/**
 * Runs the node as if it were this process: every SIGINT, SIGTERM or SIGHUP this process gets is
 * passed on to the node, which drains and exits; this process waits and exits with the node's
 * code (128 + n if a signal ended it). When a signal reached both (a terminal's Ctrl-C, a kill
 * of the process group, a service manager signalling every process), the node takes the copy
 * that follows within milliseconds as the same event (core's closeOnSignals): one drain either way.
 */
function runAsServer(cmd, args) {
  const child = spawn(cmd, args, { stdio: "inherit", cwd: root });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (osConstants.signals[signal] ?? 0)));
}
function must(cmd, args, opts) {
  const code = run(cmd, args, opts);
  if (code !== 0) process.exit(code);
}

function pnpmCommand() {
  // Under `pnpm <script>` pnpm tells us where it is; otherwise use a matching global pnpm, or
  // fetch the pinned one through npx (Node 20's bundled corepack fails here: "No compatible
  // signature found in package metadata").
  const execpath = process.env.npm_execpath ?? "";
  if (/pnpm/.test(execpath)) return [process.execPath, [execpath]];
  try {
    const v = execFileSync("pnpm", ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    if (v.split(".")[0] === PNPM_VERSION.split(".")[0]) return ["pnpm", []];
  } catch {}
  return ["npx", ["--yes", `pnpm@${PNPM_VERSION}`]];
}

/** `scope` "start": only what the example node needs (npm start); "all": tests and benches too. */
function ensureInstalled(scope = "all") {
  const plan = installPlan(root, { scope });
  if (!plan.install) {
    if (plan.record) recordState(root, { ...plan.state, scope: plan.scope });
    return;
  }
  const [cmd, pre] = pnpmCommand();
  console.error(`[modelnode] installing dependencies (pnpm ${PNPM_VERSION}; ${plan.reason}) ...`);
  must(cmd, [...pre, ...installArgs(plan)], {
    // npm_config_update_notifier: no "update available" notice from pnpm (or from npx fetching it).
    // MODELNODE_INSTALLING: pnpm runs the root's `prepare` script too; it must not build (or install) again.
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip", npm_config_update_notifier: "false", MODELNODE_INSTALLING: "1" },
  });
  recordState(root, { ...currentState(root), scope: plan.scope }); // after the install: it may have updated pnpm-lock.yaml
}

/** `projects`: tsconfigs to build (with their references); default the whole workspace. */
function build(...projects) {
  must(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-b", ...projects.map((p) => join(root, p))]);
  // The bundled tiny model is generated (seeded, deterministic) rather than committed, by the
  // workspace's model builder (a dev tool: packages/model-builder).
  const builder = join(root, "packages", "model-builder", "dist", "src", "cli.js");
  if (existsSync(builder)) {
    must(process.execPath, [builder, "--out", join(root, "models", "tiny-gpt2"), "--if-missing"]);
  }
}

function findTests(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") findTests(p, out);
    } else if (entry.name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

function allTests() {
  const dirs = [];
  for (const group of ["packages", "examples"]) {
    for (const name of readdirSync(join(root, group))) dirs.push(join(root, group, name, "dist", "test"));
  }
  dirs.push(join(root, "test", "dist"));
  return dirs.flatMap((d) => findTests(d)).map((f) => relative(root, f)).sort();
}

const USAGE = `usage: node scripts/dev.mjs <command> [args]   (what npm start, npm test, npm run build … run)

  start [node options]          build, then run the example node (start --help lists its options)
  test [compiled test files]    build, then run every test, or the files given (node --test)
  build                         install the workspace if needed, then build it
  prepare                       what \`npm install\` at the root runs: the same as build
  bench [dispatch|load|nats|structured|prefix|speculative]
                                build, then run the benches (all five by default)
  build-model [options]         build, then run the test-model builder (build-model --help)
  pull <org/name[:dtype]>       build, then download a model from the Hugging Face Hub into models/ (pull --help)
  pack [--out DIR]              build and pack every publishable package into one folder (pack --help)
  help, -h, --help              show this help
`;

const [command = "test", ...rest] = process.argv.slice(2);
switch (command) {
  case "help":
  case "-h":
  case "--help":
    process.stdout.write(USAGE);
    break;
  case "build":
    ensureInstalled();
    build();
    break;
  case "prepare":
    // `npm install` at the root (npm's own install holds only TypeScript): install the workspace
    // with pnpm and build, so that it leaves a working tree. Nothing to do inside pnpm's install.
    if (process.env.MODELNODE_INSTALLING) break;
    ensureInstalled();
    build();
    break;
  case "start": {
    // Only what the node needs, and the builder of its bundled model: the tests' peer runtimes
    // (transformers.js, its sharp, …) are not installed.
    ensureInstalled("start");
    build("examples/model-node", "packages/model-builder");
    runAsServer(process.execPath, [join(root, "examples", "model-node", "dist", "src", "cli.js"), ...rest]);
    break;
  }
  case "test": {
    ensureInstalled();
    build();
    const files = rest.length > 0 ? rest : allTests();
    // At a terminal: a line per test as it ends, failures again at the end (spec). Elsewhere
    // (CI, a pipe): TAP, which tools read. MODELNODE_TEST_REPORTER picks another (dot, junit, …).
    const reporter = process.env.MODELNODE_TEST_REPORTER ?? (process.stdout.isTTY && !process.env.CI ? "spec" : "tap");
    process.exit(
      run(process.execPath, ["--test", `--test-reporter=${reporter}`, "--test-concurrency=2", "--test-timeout=180000", ...files], {
        env: { ...process.env, MODELNODE_LOG_LEVEL: process.env.MODELNODE_LOG_LEVEL ?? "silent" },
      }),
    );
  }
  case "bench": {
    ensureInstalled();
    build();
    const which = rest[0] ?? "all";
    const benches = {
      dispatch: join(root, "packages", "core", "dist", "bench", "dispatch.js"),
      load: join(root, "test", "dist", "bench", "load.js"),
      nats: join(root, "test", "dist", "bench", "nats.js"),
      structured: join(root, "test", "dist", "bench", "structured.js"),
      prefix: join(root, "test", "dist", "bench", "prefix.js"),
      speculative: join(root, "test", "dist", "bench", "speculative.js"),
    };
    const chosen = which === "all" ? Object.keys(benches) : [which];
    for (const name of chosen) {
      if (!benches[name]) {
        console.error(`unknown bench "${name}"; choose one of: ${Object.keys(benches).join(", ")}`);
        process.exit(2);
      }
      must(process.execPath, ["--expose-gc", benches[name], ...rest.slice(1)]);
      // The dispatch bench again, against the example node at its defaults (every plugin, info logs, metrics).
      if (name === "dispatch") must(process.execPath, ["--expose-gc", benches[name], "--example", join(root, "examples", "model-node", "dist", "src", "cli.js")]);
    }
    break;
  }
  case "build-model": {
    // The dev tool that writes the seeded test models; relative paths are the caller's (npm runs
    // scripts from the root and says where it was called from in INIT_CWD).
    ensureInstalled("start");
    build("packages/model-builder");
    const cli = join(root, "packages", "model-builder", "dist", "src", "cli.js");
    process.exit(run(process.execPath, [cli, ...rest], { cwd: process.env.INIT_CWD ?? process.cwd() }));
  }
  case "pull": {
    // modelnode-pull (packages/hub); relative paths (--models-dir) are the caller's, as for build-model.
    ensureInstalled("start");
    build("packages/hub");
    const cli = join(root, "packages", "hub", "bin", "modelnode-pull.js");
    process.exit(run(process.execPath, [cli, ...rest], { cwd: process.env.INIT_CWD ?? process.cwd() }));
  }
  case "pack": {
    const options = parsePackArgs(rest, root);
    if (options.help) {
      console.log(PACK_HELP);
      break;
    }
    if (options.error) {
      console.error(`${options.error}\n\n${PACK_HELP}`);
      process.exit(2);
    }
    ensureInstalled();
    build();
    const pnpm = pnpmCommand();
    const packages = publishablePackages(root, pnpm);
    console.error(`[modelnode] packing ${packages.length} packages into ${options.out} ...`);
    for (const tarball of packAll(root, options.out, pnpm, packages)) console.log(tarball);
    break;
  }
  default:
    process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
    process.exit(2);
}
