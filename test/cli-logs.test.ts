// The example CLI's logs in a real process: JSON lines on a pipe, one line per request, no auth
// warning with auth off, pretty on request; and the `npm start 2>&1 | tee log` defect: once the
// reader of stdout has gone (tee exited), SIGINT/SIGTERM must still close the node and exit
// within its drain time, with streams in flight (it used to hang for ever, looping on
// write(1) = EPIPE inside pino's fatal-line flush, deaf to a second signal).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { header, TestClient } from "@modelnode/testing";
import { startCli } from "./support/cli.js";
import { CLI_PATH, TINY_MODEL_DIR } from "./support/paths.js";

const SHUTDOWN_MS = 1500;

function configFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), "modelnode-cli-logs-")), "config.json");
  writeFileSync(file, JSON.stringify({ shutdownTimeoutMs: SHUTDOWN_MS, models: { "tiny-gpt2": TINY_MODEL_DIR }, limits: { maxTokens: 1000 } }));
  return file;
}

/** The CLI as `model-node 2>&1 | tee`: stdout and stderr are one pipe, whose reader (this process) can leave. */
function startPiped(env: Record<string, string>): { child: ChildProcess; url: Promise<string>; exited: Promise<{ code: number | null; at: number }> } {
  const child = spawn("/bin/sh", ["-c", `exec "${process.execPath}" "${CLI_PATH}" --port 0 --host 127.0.0.1 --config "${configFile()}" 2>&1`], {
    stdio: ["ignore", "pipe", "ignore"],
    env: { ...process.env, ...env },
  });
  let output = "";
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (data) => {
      output += data;
      const match = /listening on (ws:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    child.once("exit", () => reject(new Error(`the CLI exited before listening: ${output}`)));
  });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once("exit", (code) => resolve({ code, at: performance.now() })));
  return { child, url, exited };
}

/** A client that keeps a long stream running, starting the next one as each ends, until stop(). */
async function keepStreaming(url: string) {
  const client = await TestClient.connect(url);
  let chunks = 0;
  let pending = 0;
  let stopped = false;
  const finals: any[] = [];
  const send = () => {
    pending++;
    client.send({ header: header("inference_request"), model_id: "tiny-gpt2", prompt: "Once upon a time", max_tokens: 1000, stream: true });
  };
  client.ws.on("message", (data) => {
    const frame = JSON.parse(String(data));
    if (frame.header?.message_type === "inference_chunk") {
      chunks++;
      return;
    }
    pending--;
    finals.push(frame);
    if (!stopped) send();
  });
  send();
  return {
    client,
    finals,
    chunks: () => chunks,
    /** Requests sent and not answered yet. */
    pending: () => pending,
    stop: () => void (stopped = true),
  };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(`stdout's reader gone (| tee exited), streams in flight, ${signal}: the node drains and exits 0 within its drain time`, async (t) => {
    // debug: a line per request on top of the request lines, so that writes to the dead pipe are certain.
    const cli = startPiped({ MODELNODE_LOG_LEVEL: "debug" });
    t.after(() => cli.child.kill("SIGKILL"));
    const url = await cli.url;
    const streams = await Promise.all([keepStreaming(url), keepStreaming(url)]);
    await waitFor(() => streams.every((s) => s.chunks() > 0), "both streams to be running");

    // tee exits: nothing reads the pipe any more, so every later write to stdout or stderr is EPIPE.
    cli.child.stdout!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Work in flight at the signal: a stream each (no new ones from now on).
    for (const stream of streams) stream.stop();
    const inFlight = streams.map((s) => ({ pending: s.pending(), finals: s.finals.length }));
    assert.ok(inFlight.every((s) => s.pending === 1), "each client has a stream in flight");
    cli.child.kill(signal);

    const limit = SHUTDOWN_MS + 2000 /* replies */ + 2000 /* close handshakes */ + 3000; /* margin */
    const exit = await Promise.race([cli.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), limit))]);
    assert.ok(exit, `the CLI was still running ${limit} ms after ${signal} (pid ${cli.child.pid})`);
    assert.equal(exit.code, 0);
    for (const [i, stream] of streams.entries()) {
      assert.equal((await stream.client.closed).code, 1001);
      // The stream in flight at the signal got its final reply before the close.
      const final = stream.finals[inFlight[i].finals];
      assert.equal(final?.header.message_type, "inference_response", JSON.stringify(final));
      assert.ok(["length", "stop", "cancelled"].includes(final.finish_reason));
    }
  });
}

test("stdout's reader gone: a second signal exits at once with 130", async (t) => {
  const cli = startPiped({ MODELNODE_LOG_LEVEL: "info" });
  t.after(() => cli.child.kill("SIGKILL"));
  const url = await cli.url;
  const stream = await keepStreaming(url);
  await waitFor(() => stream.chunks() > 0, "the stream to be running");
  cli.child.stdout!.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  cli.child.kill("SIGINT");
  await new Promise((resolve) => setTimeout(resolve, 200));
  const second = performance.now();
  cli.child.kill("SIGINT");
  const exit = await Promise.race([cli.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), SHUTDOWN_MS))]);
  assert.ok(exit, "the second signal was not acted on");
  assert.equal(exit.code, 130);
  assert.ok(exit.at - second < SHUTDOWN_MS);
  stream.client.ws.terminate();
});

test("logs on a pipe are JSON lines: at info a generation logs one line with its token counts, a failed request one, a heartbeat none; no auth warning with auth off", async (t) => {
  const cli = startCli([], { MODELNODE_LOG_LEVEL: "info" });
  t.after(() => cli.child.kill("SIGKILL"));
  const client = await TestClient.connect(await cli.url);
  assert.equal((await client.call("heartbeat", { worker_id: "w" })).header.message_type, "heartbeat_ack");
  const response = await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hi", max_tokens: 3 });
  assert.equal(response.header.message_type, "inference_response");
  assert.equal((await client.call("inference_request", { model_id: "no-such-model", prompt: "Hi" })).code, "MODEL_NOT_FOUND");
  await client.close();
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);

  const lines = cli.stdout().split("\n").filter(Boolean).map((line) => JSON.parse(line));
  const perRequest = lines.filter((line) => line.msg === "request done" || line.msg === "generation done");
  assert.deepEqual(
    perRequest.map(({ level, msg, type, outcome, model, prompt_tokens, completion_tokens, finish }) => ({ level, msg, type, outcome, model, prompt_tokens, completion_tokens, finish })),
    [
      {
        level: 30,
        msg: "generation done",
        type: undefined,
        outcome: undefined,
        model: "tiny-gpt2",
        prompt_tokens: response.usage.prompt_tokens,
        completion_tokens: response.usage.completion_tokens,
        finish: response.finish_reason,
      },
      { level: 30, msg: "request done", type: "inference_request", outcome: "MODEL_NOT_FOUND", model: undefined, prompt_tokens: undefined, completion_tokens: undefined, finish: undefined },
    ],
  );
  for (const line of perRequest) assert.equal(typeof line.ms, "number");
  assert.equal(lines.filter((line) => line.level >= 40).length, 0, `no warnings: ${JSON.stringify(lines.filter((line) => line.level >= 40))}`);
  assert.ok(lines.some((line) => line.msg === "node closed"));
});

test("at debug every request has its 'request done' line, the heartbeat's included", async (t) => {
  const cli = startCli([], { MODELNODE_LOG_LEVEL: "debug" });
  t.after(() => cli.child.kill("SIGKILL"));
  const client = await TestClient.connect(await cli.url);
  assert.equal((await client.call("heartbeat", { worker_id: "w" })).header.message_type, "heartbeat_ack");
  assert.equal((await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hi", max_tokens: 3 })).header.message_type, "inference_response");
  await client.close();
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
  const lines = cli.stdout().split("\n").filter(Boolean).map((line) => JSON.parse(line));
  assert.deepEqual(
    lines.filter((line) => line.msg === "request done").map(({ level, type, outcome }) => ({ level, type, outcome })),
    [
      { level: 20, type: "heartbeat", outcome: "ok" },
      { level: 20, type: "inference_request", outcome: "ok" },
    ],
  );
  assert.equal(lines.filter((line) => line.msg === "generation done").length, 1);
});

test("MODELNODE_LOG_FORMAT=pretty prints readable lines on a pipe too; an unknown format is a config error (exit 2)", async (t) => {
  const cli = startCli([], { MODELNODE_LOG_LEVEL: "info", MODELNODE_LOG_FORMAT: "pretty", NO_COLOR: "1" });
  t.after(() => cli.child.kill("SIGKILL"));
  await cli.url;
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);
  const lines = cli.stdout().split("\n").filter(Boolean);
  assert.ok(lines.length > 0);
  for (const line of lines) assert.match(line, /^\[\d\d:\d\d:\d\d\.\d\d\d\] (INFO|DEBUG|WARN) \(modelnode\): /, line);
  assert.ok(lines.some((line) => line.includes("node closed")));

  const bad = startCli([], { MODELNODE_LOG_FORMAT: "xml" });
  assert.equal(await bad.exited, 2);
  assert.equal(bad.stderr(), "config error: MODELNODE_LOG_FORMAT: expected json or pretty\n");
});
