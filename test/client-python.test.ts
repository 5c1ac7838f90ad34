// The Python examples of docs/client.md (the field's `websockets` clients), run as written
// against the example node: the legacy decode loop and the streamed inference_request. Their
// text is checked against @modelnode/client's for the same greedy request. Skipped, saying why,
// where no python3 has the websockets package.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ModelNodeClient } from "@modelnode/client/node";
import { startNode, type RunningNode } from "./support/node.js";
import { findPython } from "./support/python.js";
import { REPO_ROOT } from "./support/paths.js";

const run = promisify(execFile);


/** The ```python blocks of docs/client.md, in order. */
function pythonExamples(): string[] {
  const doc = readFileSync(join(REPO_ROOT, "docs", "client.md"), "utf8");
  return [...doc.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]);
}

const python = findPython();
const skip = python ? false : "python3 with the websockets package is not installed (apt-get install -y python3-websockets)";
const [LEGACY, STREAMED] = pythonExamples();

let running: RunningNode;
let client: ModelNodeClient;
let dir: string;

before(async () => {
  if (!python) return;
  running = await startNode();
  client = new ModelNodeClient(running.url, { model: "tiny-gpt2" });
  dir = mkdtempSync(join(tmpdir(), "modelnode-client-py-"));
});
after(async () => {
  await client?.close();
  await running?.node.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function runExample(name: string, code: string): Promise<any> {
  const file = join(dir, name);
  writeFileSync(file, code);
  const { stdout } = await run(python!, [file, running.url], { timeout: 30_000 });
  return JSON.parse(stdout.trim());
}

test("docs/client.md has its two Python examples", () => {
  assert.match(LEGACY, /"session_id": session_id, "step": step/);
  assert.match(STREAMED, /"message_type": message_type/);
  assert.match(STREAMED, /"stream": True/);
});

test("the legacy decode loop of docs/client.md runs and continues its session step by step", { skip }, async () => {
  const out = await runExample("legacy.py", LEGACY);
  assert.match(out.session_id, /^py-/);
  assert.ok(out.steps >= 1 && out.steps <= 8);
  // Step 0's next token is the greedy first token of the same prompt.
  const session = client.session();
  const first = await session.step("Hello");
  assert.ok(out.text.startsWith(first.next_token));
});

test("the streamed inference_request of docs/client.md gets its chunks and the response, as the client does", { skip }, async () => {
  const out = await runExample("streamed.py", STREAMED);
  assert.equal(out.finish_reason, "length");
  assert.equal(out.usage.completion_tokens, 16);
  assert.ok(out.chunks > 1);
  const same = await client.generate({ prompt: "Once upon a time", max_tokens: 16 });
  assert.equal(out.text, same.text);
});
