/** `node dist/src/server.js`: listens on $PORT, answers, and stops cleanly on SIGTERM. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { createCustomServer, portFromEnv } from "../src/index.js";
import { header, TestClient } from "@modelnode/testing";

test("PORT: default 8703, 0 allowed, nonsense refused", async () => {
  assert.equal(portFromEnv(undefined), 8703);
  assert.equal(portFromEnv("0"), 0);
  assert.equal(portFromEnv("9000"), 9000);
  assert.throws(() => portFromEnv("http"), /PORT/);
  assert.throws(() => portFromEnv("70000"), /PORT/);
  const node = await createCustomServer({ logLevel: "silent" });
  assert.equal(node.options.port, 8703);
});

test("the server process serves on $PORT and exits 0 on SIGTERM", async () => {
  const script = fileURLToPath(new URL("../src/server.js", import.meta.url));
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", MODELNODE_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    // pino writes one JSON line per event; "listening" carries the bound port.
    let output = "";
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on("data", (chunk) => {
        output += chunk;
        const line = output.split("\n").find((l) => l.includes('"listening"'));
        if (line) resolve(JSON.parse(line).port);
      });
      child.once("exit", (code) => reject(new Error(`server exited early with ${code}`)));
    });
    const client = await TestClient.connect(`ws://127.0.0.1:${port}`);
    const reply = await client.request({ header: header("echo"), text: "ping" });
    assert.equal(reply.text, "ping");
    client.close();
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
