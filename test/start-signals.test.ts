/**
 * `node scripts/dev.mjs start` (what `npm start` runs) behaves like the server it starts: Ctrl-C
 * at a terminal (SIGINT to the whole process group) lets the node drain and the command exits
 * with the node's code only then; a SIGINT or SIGTERM to the command alone, or to its group (a
 * service manager), is one drain, never two signals.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT, TINY_MODEL_DIR } from "./support/paths.js";

function start(): Promise<{ child: ReturnType<typeof spawn>; stderr: () => string; exited: Promise<{ code: number | null; at: number }> }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, "scripts", "dev.mjs"), "start", "--port", "0", "--host", "127.0.0.1", "--model", `tiny-gpt2=${TINY_MODEL_DIR}`, "--log-level", "silent"], {
    cwd: REPO_ROOT,
    detached: true, // its own process group, as a shell gives a foreground job
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (chunk) => (err += String(chunk)));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once("exit", (code) => resolve({ code, at: Date.now() })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${err}`)), 120_000);
    const poll = setInterval(() => {
      if (/listening on/.test(err)) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve({ child, stderr: () => err, exited });
      }
    }, 20);
  });
}

test("Ctrl-C (SIGINT to the process group): the command waits for the node's drain and exits 0", async () => {
  const { child, stderr, exited } = await start();
  process.kill(-child.pid!, "SIGINT");
  const { code } = await exited;
  assert.equal(code, 0, stderr());
  assert.match(stderr(), /SIGINT: closing/);
  assert.doesNotMatch(stderr(), /again: exiting without waiting/, "one Ctrl-C is one signal for the node, not two");
});

test("SIGTERM to the command alone reaches the node, which drains and exits 0", async () => {
  const { child, stderr, exited } = await start();
  child.kill("SIGTERM");
  const { code } = await exited;
  assert.equal(code, 0, stderr());
  assert.match(stderr(), /SIGTERM: closing/);
});

test("SIGINT to the command alone (not its group) reaches the node, which drains and exits 0", async () => {
  const { child, stderr, exited } = await start();
  child.kill("SIGINT");
  const { code } = await exited;
  assert.equal(code, 0, stderr());
  assert.match(stderr(), /SIGINT: closing/);
});

test("SIGTERM to the process group (a service manager): one drain, not two signals", async () => {
  const { child, stderr, exited } = await start();
  process.kill(-child.pid!, "SIGTERM");
  const { code } = await exited;
  assert.equal(code, 0, stderr());
  assert.match(stderr(), /SIGTERM: closing/);
  assert.doesNotMatch(stderr(), /again: exiting without waiting/, "the group's signal and the one passed on are one event");
});
