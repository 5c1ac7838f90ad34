// The guide's own example clients (test/python/*.py, Python `websockets`) against the example
// node serving the model under the guide's id, "test_model". Skipped, saying why, where no
// python3 has the websockets package (CI installs Debian's python3-websockets).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ModelNode } from "@modelnode/core/server";
import { startNode } from "./support/node.js";
import { findPython } from "./support/python.js";
import { REPO_ROOT, TINY_MODEL_DIR } from "./support/paths.js";

const run = promisify(execFile);


const python = findPython();
const skip = python ? false : "python3 with the websockets package is not installed (apt-get install -y python3-websockets)";

let node: ModelNode;
let url: string;

before(async () => {
  if (!python) return;
  ({ node, url } = await startNode({ models: { test_model: TINY_MODEL_DIR } }));
});
after(() => node?.close());

/** Runs a guide client and returns the JSON it printed after `label`. */
async function runClient(script: string, label: string): Promise<any> {
  const { stdout } = await run(python!, [join(REPO_ROOT, "test", "python", script), url], { timeout: 30_000 });
  const line = stdout.split("\n").find((l) => l.startsWith(label));
  assert.ok(line, `expected a line starting with "${label}", got: ${stdout}`);
  return JSON.parse(line.slice(label.length).trim());
}

test("the guide's legacy client gets a step reply for session \"test\"", { skip }, async () => {
  const reply = await runClient("legacy_client.py", "Legacy response:");
  assert.equal(reply.session_id, "test");
  assert.equal(reply.step, 0);
  assert.equal(typeof reply.output_tensors.next_token_id, "number");
  assert.equal(reply.error, undefined);
});

test("the guide's standard client gets an inference_response correlated to test-123", { skip }, async () => {
  const reply = await runClient("standard_client.py", "Protocol response:");
  assert.equal(reply.header.message_type, "inference_response");
  assert.equal(reply.header.correlation_id, "test-123");
  assert.equal(reply.model_id, "test_model");
  assert.equal(typeof reply.text, "string");
  assert.ok(reply.text.length > 0);
});
