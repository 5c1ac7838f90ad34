// What the example CLI does with errors that escape everything else (see
// examples/model-node/src/process-handlers.ts and docs/operations.md): an unhandled rejection is
// logged once and the node keeps serving; an uncaught exception is logged once, the node closes
// gracefully (clients get 1001) and the process exits 1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { TestClient } from "@modelnode/testing";
import { startCli } from "./support/cli.js";
import { eventually } from "./support/node.js";

const INDUCE = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), "support", "induce-faults.js")).href;

function logLines(stdout: string): { level: number; msg: string }[] {
  return stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

test("CLI: an unhandled rejection is logged once and the node keeps serving; SIGTERM still exits 0", async (t) => {
  const cli = startCli(["--log-level", "error"], { MODELNODE_TEST_FAULT: "rejection" }, ["--import", INDUCE]);
  t.after(() => cli.child.kill("SIGKILL"));
  const client = await TestClient.connect(await cli.url);
  cli.child.kill("SIGUSR2");
  await eventually(() => cli.stdout().includes("unhandled promise rejection"), "the rejection to be logged");
  assert.equal((await client.call("heartbeat", { worker_id: "w" })).header.message_type, "heartbeat_ack");
  const lines = logLines(cli.stdout());
  assert.equal(lines.length, 1, cli.stdout());
  assert.equal(lines[0].level, 50);
  assert.match(JSON.stringify(lines[0]), /induced unhandled rejection/);
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
  assert.equal((await client.closed).code, 1001);
});

test("CLI: an uncaught exception is logged once, the node closes gracefully (1001) and exits 1", async (t) => {
  const cli = startCli(["--log-level", "error"], { MODELNODE_TEST_FAULT: "exception" }, ["--import", INDUCE]);
  t.after(() => cli.child.kill("SIGKILL"));
  const client = await TestClient.connect(await cli.url);
  cli.child.kill("SIGUSR2");
  assert.equal(await cli.exited, 1);
  assert.equal((await client.closed).code, 1001, "clients are told the node is going away");
  const lines = logLines(cli.stdout());
  assert.equal(lines.length, 1, cli.stdout());
  assert.equal(lines[0].level, 60);
  assert.match(JSON.stringify(lines[0]), /induced uncaught exception/);
});
