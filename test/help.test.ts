// Every command the README and docs tell a newcomer to run has a --help that exits 0 and prints a
// usage line, and refuses an unknown command or option with exit 2 and the usage (or a pointer to
// --help), rather than a stack trace or a run that does something else (the hash-key CLI used to
// hash "--help"; scripts/dev.mjs called it an unknown command).
// Nothing here starts a server: each command stops at its arguments.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { CLI_PATH, REPO_ROOT } from "./support/paths.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const options = { cwd: REPO_ROOT, timeout: 60_000, env: { ...process.env, MODELNODE_LOG_LEVEL: "silent" } };
    // stdin closed at once: a command that wrongly waits for input ends instead of hanging.
    const child = execFile(command, args, options, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end();
  });
}

const node = (file: string, ...args: string[]) => run(process.execPath, [join(REPO_ROOT, file), ...args]);
const npmRun = (script: string, ...args: string[]) => run(process.platform === "win32" ? "npm.cmd" : "npm", ["run", script, "--", ...args]);

/** The commands, each with how to call it with extra arguments. */
const COMMANDS: Record<string, (...args: string[]) => Promise<Run>> = {
  "node scripts/dev.mjs": (...args) => node("scripts/dev.mjs", ...args),
  "npm run build-model --": (...args) => npmRun("build-model", ...args),
  "npm run cluster --": (...args) => npmRun("cluster", ...args),
  "npm run pack --": (...args) => npmRun("pack", ...args),
  "npm run pull --": (...args) => npmRun("pull", ...args),
  "node examples/model-node/dist/src/cli.js": (...args) => run(process.execPath, [CLI_PATH, ...args]),
  "node examples/model-node/dist/src/cli.js pull": (...args) => run(process.execPath, [CLI_PATH, "pull", ...args]),
  "modelnode-hash-key (packages/plugin-auth)": (...args) => node("packages/plugin-auth/bin/modelnode-hash-key.js", ...args),
  "modelnode-pull (packages/hub)": (...args) => node("packages/hub/bin/modelnode-pull.js", ...args),
};

const USAGE_LINE = /^usage: /im;
const shown = (r: Run) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

for (const [name, call] of Object.entries(COMMANDS)) {
  test(`${name} --help exits 0 with a usage line, and an unknown argument exits 2 and points to the usage`, async () => {
    const [help, short, unknown] = await Promise.all([call("--help"), call("-h"), call("--no-such-option")]);
    for (const r of [help, short]) {
      assert.equal(r.code, 0, shown(r));
      assert.match(r.stdout, USAGE_LINE, shown(r));
      assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .+:\d+:\d+\)?\n|unknown/i, shown(r));
    }
    // The usage itself, or a pointer to it ("see --help") next to the argument refused.
    assert.equal(unknown.code, 2, shown(unknown));
    assert.match(unknown.stderr, /no-such-option/, shown(unknown));
    assert.match(unknown.stderr, /^usage: |--help/im, shown(unknown));
  });
}

test("node scripts/dev.mjs help, and an unknown command, show the usage", async () => {
  const [help, unknown] = await Promise.all([node("scripts/dev.mjs", "help"), node("scripts/dev.mjs", "no-such-command")]);
  assert.equal(help.code, 0, shown(help));
  assert.match(help.stdout, USAGE_LINE);
  assert.equal(unknown.code, 2, shown(unknown));
  assert.match(unknown.stderr, /unknown command "no-such-command"/);
  assert.match(unknown.stderr, USAGE_LINE);
});
