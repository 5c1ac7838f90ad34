// Extending the example node: a plugin entry (the count_tokens plugin of docs/extending.md) gets
// its options from the config's `plugins` section and answers over a real socket on the bundled
// model, next to the built-in message types; a ready-made plugin can be added as it is.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { defineHandler, definePlugin, PIPELINE, z } from "@modelnode/core";
import type { ModelNode } from "@modelnode/core/server";
import { echoPlugin } from "@modelnode/example-custom-plugin";
import { ConfigError, createModelNode, pluginEntry } from "@modelnode/example-model-node";
import { TestClient } from "@modelnode/testing";
import { startNode } from "./support/node.js";

// ---- the plugin, as docs/extending.md writes it ----
export const countTokensOptionsSchema = z.strictObject({
  /** Longest text accepted, in characters. */
  maxChars: z.int({ error: "expected an integer ≥ 1" }).min(1, { error: "expected an integer ≥ 1" }).default(100_000),
});
export type CountTokensOptions = z.input<typeof countTokensOptionsSchema>;

export function countTokensPlugin(options: CountTokensOptions = {}) {
  const { maxChars } = countTokensOptionsSchema.parse(options);
  const schema = z.object({
    model_id: z.string().min(1).max(256),
    text: z.string().max(maxChars),
  });
  return definePlugin({
    name: "count_tokens",
    version: "0.1.0",
    requires: [PIPELINE],
    handlers: [
      defineHandler({
        type: "count_tokens",
        schema,
        inject: { pipeline: PIPELINE },
        handle(msg, _ctx, { pipeline }) {
          return pipeline.countTokens(msg.model_id, msg.text).then((count) => ({ model_id: msg.model_id, token_count: count }));
        },
      }),
    ],
  });
}

const countTokens = pluginEntry({ name: "count_tokens", options: countTokensOptionsSchema, create: countTokensPlugin });
// ----

let node: ModelNode;
let url: string;

before(async () => {
  ({ node, url } = await startNode({ plugins: { count_tokens: { maxChars: 40 } } }, { plugins: [countTokens, echoPlugin()] }));
});
after(() => node.close());

test("count_tokens answers on the bundled model, with the same count the model gives a prompt", async () => {
  const client = await TestClient.connect(url);
  const reply = await client.call("count_tokens", { model_id: "tiny-gpt2", text: "Hello, world!" }, "ct-1");
  assert.equal(reply.header.message_type, "count_tokens_response");
  assert.equal(reply.header.correlation_id, "ct-1");
  assert.equal(reply.model_id, "tiny-gpt2");
  assert.ok(Number.isInteger(reply.token_count) && reply.token_count > 0, JSON.stringify(reply));
  const inference = await client.call("inference_request", { model_id: "tiny-gpt2", prompt: "Hello, world!", max_tokens: 1 });
  assert.equal(inference.usage.prompt_tokens, reply.token_count);
  await client.close();
});

test("the plugin's options come from the config: text above plugins.count_tokens.maxChars is VALIDATION_FAILED", async () => {
  const client = await TestClient.connect(url);
  const long = await client.call("count_tokens", { model_id: "tiny-gpt2", text: "x".repeat(41) });
  assert.equal(long.code, "VALIDATION_FAILED");
  assert.deepEqual(long.details.issues.map((i: { path: string }) => i.path), ["text"]);
  const missing = await client.call("count_tokens", { model_id: "no-such-model", text: "Hi" });
  assert.equal(missing.code, "MODEL_NOT_FOUND");
  assert.equal((await client.call("count_tokens", { model_id: "tiny-gpt2", text: "x".repeat(40) })).header.message_type, "count_tokens_response");
  await client.close();
});

test("built-in message types and a ready-made extra plugin are served beside it", async () => {
  const client = await TestClient.connect(url);
  assert.equal((await client.call("heartbeat", { worker_id: "w" })).header.message_type, "heartbeat_ack");
  const echo = await client.call("echo", { text: "hi there" });
  assert.equal(echo.header.message_type, "echo_response");
  assert.equal(echo.text, "hi there");
  await client.close();
});

test("a bad plugins.count_tokens option stops startup with a config error naming the field", async () => {
  await assert.rejects(createModelNode({ logLevel: "silent", plugins: { count_tokens: { maxChars: 0 } } }, { plugins: [countTokens] }), (error: Error) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, "config error: plugins.count_tokens.maxChars: expected an integer ≥ 1");
    return true;
  });
});
