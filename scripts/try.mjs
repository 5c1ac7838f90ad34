#!/usr/bin/env node
// A first conversation with a running node, in Node alone (no Python needed):
//   node scripts/try.mjs [ws://localhost:8702] [model]
// It sends a legacy step, a heartbeat, list_models and a streamed inference_request, and prints
// each reply. `ws` comes from the workspace (run `npm start` or `npm test` once first).
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";

const require = createRequire(new URL("../packages/testing/package.json", import.meta.url));
const WebSocket = require("ws");
const url = process.argv[2] ?? "ws://localhost:8702";
const model = process.argv[3] ?? "tiny-gpt2";

const header = (type) => ({ message_id: randomUUID(), message_type: type, protocol_version: "2.0", timestamp: new Date().toISOString() });
const ws = new WebSocket(url);
const frames = [];
let wake;
ws.on("message", (data) => {
  frames.push(JSON.parse(String(data)));
  wake?.();
});
const next = async () => {
  while (frames.length === 0) await new Promise((resolve) => (wake = resolve));
  return frames.shift();
};
const show = (what, { header: h, ...payload }) => console.log(`${what} → ${h ? h.message_type : "legacy reply"}:\n  ${JSON.stringify(payload)}`);

ws.once("error", (err) => {
  console.error(`cannot reach ${url}: ${err.message} (is the node running? npm start)`);
  process.exit(1);
});
ws.once("open", async () => {
  ws.send(JSON.stringify({ session_id: "try-1", step: 0, input_tensors: { input_ids: "Hello, model node" } }));
  show("legacy step 0", await next());
  ws.send(JSON.stringify({ header: header("heartbeat"), worker_id: "try" }));
  show("heartbeat", await next());
  ws.send(JSON.stringify({ header: header("list_models") }));
  show("list_models", await next());
  ws.send(JSON.stringify({ header: header("inference_request"), model_id: model, prompt: "Once upon a time", max_tokens: 12, stream: true }));
  process.stdout.write("inference (streamed):\n  ");
  for (;;) {
    const frame = await next();
    if (frame.header?.message_type === "inference_chunk") process.stdout.write(frame.text);
    else {
      console.log(`\n  final: ${JSON.stringify({ finish_reason: frame.finish_reason, usage: frame.usage, code: frame.code })}`);
      break;
    }
  }
  ws.close();
});
