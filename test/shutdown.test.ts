// Graceful shutdown of the real CLI: on SIGTERM/SIGINT it stops accepting, reports "draining"
// in heartbeats, lets in-flight work finish until shutdownTimeoutMs, then cancels the rest with a
// final reply, closes every socket with 1001 and exits 0. Every request gets its final reply
// before its connection closes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestClient, header, upgradeOutcome } from "@modelnode/testing";
import { startCli } from "./support/cli.js";
import { eventually, pipelineStats, startNode } from "./support/node.js";
import { TINY_MODEL_DIR } from "./support/paths.js";

const SHUTDOWN_MS = 500;

function configFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), "modelnode-shutdown-")), "config.json");
  const config = { shutdownTimeoutMs: SHUTDOWN_MS, models: { "tiny-gpt2": TINY_MODEL_DIR }, limits: { maxTokens: 1000, maxBatchSize: 3 } };
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const inference = (id: string, maxTokens: number, stream: boolean) => ({
  header: header("inference_request", id),
  ...{ model_id: "tiny-gpt2", prompt: "Once upon a time", max_tokens: maxTokens, stream },
});

/** The final (non-chunk) reply to `id` among the frames a client received. */
const finalFor = (client: TestClient, id: string) =>
  client.received.find((f) => f.header?.correlation_id === id && f.header.message_type !== "inference_chunk");

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${signal} with streams and plain requests in flight: each gets its final reply, then 1001; exit 0`, async (t) => {
    const cli = startCli(["--config", configFile()]);
    t.after(() => cli.child.kill("SIGKILL"));
    const url = await cli.url;
    const [a, b, c] = await Promise.all([TestClient.connect(url), TestClient.connect(url), TestClient.connect(url)]);
    // Long work that cannot end within the deadline, streamed and plain, on two slots of three.
    a.send(inference("long-stream", 1000, true));
    assert.equal((await a.next()).header.message_type, "inference_chunk");
    a.send(inference("long-plain", 1000, false));
    b.send({ session_id: "legacy-before", step: 0, input_tensors: { input_ids: "Hello" } });
    assert.ok((await b.next()).output_tensors);

    cli.child.kill(signal);
    await cli.waitForStderr(new RegExp(`${signal}: closing`));
    // Draining: new connections are refused, open ones are told, and short work still completes.
    assert.notEqual(await upgradeOutcome(url).catch(() => "refused"), "open");
    c.send({ header: header("heartbeat", "hb-draining"), worker_id: "w" });
    c.send(inference("short-plain", 2, false));
    c.send(inference("short-stream", 2, true));

    const closes = await Promise.all([a.closed, b.closed, c.closed]);
    assert.deepEqual(closes.map((x) => x.code), [1001, 1001, 1001]);
    assert.equal(await cli.exited, 0);

    assert.equal(finalFor(c, "hb-draining").status, "draining");
    const finals = {
      "long-stream": finalFor(a, "long-stream"),
      "long-plain": finalFor(a, "long-plain"),
      "short-plain": finalFor(c, "short-plain"),
      "short-stream": finalFor(c, "short-stream"),
    };
    for (const [id, final] of Object.entries(finals)) {
      assert.ok(final, `${id} got no final reply before the close`);
      assert.equal(final.header.message_type, "inference_response", `${id}: ${JSON.stringify(final)}`);
      assert.ok(["stop", "length", "cancelled"].includes(final.finish_reason), id);
    }
    assert.equal(finals["long-stream"].finish_reason, "cancelled", "work past the deadline is cancelled");
    assert.equal(finals["long-plain"].finish_reason, "cancelled");
    assert.equal(finals["short-plain"].finish_reason, "length", "work within the deadline completes");
    assert.equal(finals["short-stream"].finish_reason, "length");
    assert.match(cli.stderr(), new RegExp(`in-flight requests get up to ${SHUTDOWN_MS} ms`));
  });
}

test("close(): a generation still waiting for a slot is cancelled with a final reply too", async (t) => {
  const { node, url } = await startNode({ limits: { maxBatchSize: 1, maxTokens: 1000 }, shutdownTimeoutMs: 100 });
  t.after(() => node.close());
  const client = await TestClient.connect(url);
  client.send(inference("running", 1000, true));
  client.send(inference("waiting", 1000, false));
  await eventually(() => pipelineStats(node).queuedGenerations === 1, "the second generation to wait");
  await node.close();
  assert.equal((await client.closed).code, 1001);
  assert.equal(finalFor(client, "running").finish_reason, "cancelled");
  assert.equal(finalFor(client, "waiting").finish_reason, "cancelled");
  assert.equal(finalFor(client, "waiting").usage.completion_tokens, 0);
});
