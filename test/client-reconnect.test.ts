// @modelnode/client when the connection goes: the node restarting on the same port (the client
// reconnects by itself, and authenticates again before its queued requests go out), a drop
// under a request (ConnectionLostError, never replayed; a streamed generation resumes instead),
// and a connection that silently stops answering (the heartbeat deadline drops it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect, type Server, type Socket } from "node:net";
import type { ModelNode } from "@modelnode/core/server";
import { ConnectionLostError, ModelNodeClient, type ConnectionState } from "@modelnode/client/node";
import { createModelNode, type ModelNodeConfigInput } from "@modelnode/example-model-node";
import { hashLicenseKey } from "@modelnode/plugin-auth";
import { eventually, startNode } from "./support/node.js";
import { TINY_MODEL_DIR } from "./support/paths.js";

const MODEL = "tiny-gpt2";
const FAST_RECONNECT = { initialDelayMs: 50, maxDelayMs: 400 };

/** The example node as startNode makes it, but on a given port (to restart "the same" node). */
async function startNodeOn(port: number, config: ModelNodeConfigInput = {}): Promise<ModelNode> {
  const node = await createModelNode({ logLevel: "silent", models: { [MODEL]: TINY_MODEL_DIR }, ...config });
  await node.listen(port, "127.0.0.1");
  return node;
}

const inFlight = (node: ModelNode) => (node.getStats().inference as { in_flight: number }).in_flight;

/** A TCP relay in front of a node that can cut its connections, or freeze them (nothing passes, nothing closes). */
class Relay {
  readonly pairs = new Set<{ client: Socket; upstream: Socket; frozen: boolean }>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<Relay> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const relay = new Relay(server, (server.address() as { port: number }).port);
    server.on("connection", (client) => {
      const upstream = connect(targetPort, "127.0.0.1");
      const pair = { client, upstream, frozen: false };
      relay.pairs.add(pair);
      client.on("data", (data) => pair.frozen || upstream.write(data));
      upstream.on("data", (data) => pair.frozen || client.write(data));
      const end = () => {
        relay.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("close", end).on("error", end);
      upstream.on("close", end).on("error", end);
    });
    return relay;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Every connection ends at once, without a close frame (the client sees 1006). */
  cut(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
  }

  /** The open connections stop carrying anything, both ways, but stay open. New ones work. */
  freeze(): void {
    for (const pair of this.pairs) pair.frozen = true;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

test("the node restarts on the same port: the client reconnects by itself and serves the requests made meanwhile", async () => {
  const first = await startNode({ limits: { maxTokens: 1000 }, shutdownTimeoutMs: 0 });
  const client = new ModelNodeClient(first.url, { model: MODEL, reconnect: FAST_RECONNECT });
  const states: ConnectionState[] = [];
  client.on("statechange", (event) => states.push(event.state));
  let second: ModelNode | undefined;
  try {
    const before = await client.heartbeat();
    // A generation running when the node shuts down gets the node's last word: finish_reason cancelled.
    const running = client.generate({ prompt: "A long story:", max_tokens: 1000 });
    for await (const _ of running) break;
    const interrupted = client.generate({ prompt: "Another long story:", max_tokens: 1000 });
    const firstPiece = interrupted[Symbol.asyncIterator]().next();
    await firstPiece;
    await first.node.close();
    assert.equal((await interrupted).finishReason, "cancelled");
    await eventually(() => client.state === "reconnecting", "the client to notice the node is gone");

    // Asked while the node is down: queued, sent once it is back.
    const queued = client.listModels();
    second = await startNodeOn(first.port);
    assert.deepEqual((await queued).map((m) => m.id), [MODEL]);
    const after = await client.heartbeat();
    assert.notEqual(after.node_id, before.node_id, "another node answers");
    assert.equal((await client.generate({ prompt: "Hi", max_tokens: 3 })).usage.completion_tokens, 3);
    assert.deepEqual(states.slice(0, 3), ["connecting", "open", "reconnecting"]);
    assert.equal(states[states.length - 1], "open");
    assert.ok(states.filter((s) => s === "open").length === 2);
  } finally {
    await client.close();
    await second?.close();
  }
});

test("auth survives a restart: the client authenticates again with the key it kept, before its queued requests go out", async () => {
  const KEY = "client-reconnect-license-key-42";
  const auth = { required: true, keyHashes: [hashLicenseKey(KEY)] };
  const first = await startNode({ auth });
  const client = new ModelNodeClient(first.url, { model: MODEL, reconnect: FAST_RECONNECT });
  let second: ModelNode | undefined;
  try {
    await assert.rejects(client.listModels(), { code: "UNAUTHENTICATED" });
    await client.authenticate(KEY);
    assert.deepEqual((await client.listModels()).map((m) => m.id), [MODEL]);

    await first.node.close();
    await eventually(() => client.state === "reconnecting", "the client to notice the node is gone");
    // No secret configured: the old license_hash means nothing to the new node; the key does.
    second = await startNodeOn(first.port, { auth });
    const queued = client.generate({ prompt: "Hi", max_tokens: 2 });
    assert.equal((await queued).usage.completion_tokens, 2, "served without calling authenticate() again");
    assert.deepEqual((await client.listModels()).map((m) => m.id), [MODEL]);
    const stats = second.getStats().auth as { successful_attempts: number; failed_attempts: number };
    assert.equal(stats.successful_attempts, 1);
    assert.equal(stats.failed_attempts, 0);
    assert.equal((second.getStats().errors_by_code as Record<string, number>).UNAUTHENTICATED ?? 0, 0);
  } finally {
    await client.close();
    await second?.close();
  }
});

test("a drop under a request: it fails with ConnectionLostError (not replayed), the node frees it, the client reconnects and serves on", async () => {
  const { node, port } = await startNode({ limits: { maxTokens: 1000 } });
  const relay = await Relay.start(port);
  const client = new ModelNodeClient(relay.url, { model: MODEL, reconnect: FAST_RECONNECT });
  try {
    const gen = client.generate({ prompt: "A long story:", max_tokens: 1000, resumable: false });
    const session = client.session();
    await session.step("Hello");
    const pieces: string[] = [];
    const reading = (async () => {
      for await (const piece of gen) {
        pieces.push(piece);
        if (pieces.length === 1) relay.cut();
      }
    })();
    await assert.rejects(reading, (error: unknown) => {
      assert.ok(error instanceof ConnectionLostError);
      assert.equal(error.code, "CONNECTION_LOST");
      assert.equal(error.details.reason, "dropped");
      assert.equal(error.details.close_code, 1006);
      return true;
    });
    await assert.rejects(gen.result, ConnectionLostError);
    await eventually(() => inFlight(node) === 0 && node.getStats().in_flight === 0, "the node to cancel the orphaned generation");
    const generated = (node.getStats().inference as { finish_reasons: Record<string, number> }).finish_reasons;
    assert.equal(generated.cancelled, 1, "the node cancelled it when the connection went; the client did not resend it");

    // Reconnected: work goes on; the global legacy session continues where it was.
    assert.equal((await client.generate({ prompt: "Hi", max_tokens: 3 })).usage.completion_tokens, 3);
    const next = await session.step([1]);
    assert.equal(next.sequence_length > 1, true);
    assert.equal(session.nextStep, 2);
  } finally {
    await client.close();
    await relay.close();
    await node.close();
  }
});

test("a connection that stops answering: the heartbeat deadline drops it, the request on it fails, a new connection serves", async () => {
  const { node, port } = await startNode({ limits: { maxTokens: 1000 } });
  const relay = await Relay.start(port);
  const client = new ModelNodeClient(relay.url, {
    model: MODEL,
    reconnect: FAST_RECONNECT,
    heartbeatIntervalMs: 100,
    heartbeatTimeoutMs: 300,
  });
  const reconnecting: ConnectionLostError[] = [];
  client.on("reconnecting", (event) => reconnecting.push(event.error as ConnectionLostError));
  try {
    await client.connect();
    const gen = client.generate({ prompt: "A long story:", max_tokens: 1000 });
    for await (const _ of gen) {
      relay.freeze();
      break; // asks for a cancel that the frozen relay never delivers
    }
    // The cancel was asked for, so the drop ends it as cancelled rather than failing it.
    assert.equal((await gen).finishReason, "cancelled");
    await eventually(() => reconnecting.length > 0, "the heartbeat deadline to pass");
    assert.equal(reconnecting[0].details.reason, "heartbeat_timeout");
    // A request on a frozen connection, without a cancel: ConnectionLostError.
    const models = await client.listModels();
    assert.deepEqual(models.map((m) => m.id), [MODEL]);
    await eventually(() => inFlight(node) === 0, "the node to end the generation of the dropped connection");

    relay.freeze();
    const lost = client.generate({ prompt: "Once more:", max_tokens: 1000, resumable: false });
    await assert.rejects(lost.result, (error: unknown) => error instanceof ConnectionLostError && error.details.reason === "heartbeat_timeout");
    assert.equal((await client.heartbeat()).status, "healthy");
  } finally {
    await client.close();
    await relay.close();
    await node.close();
  }
});

test("a drop under a streamed generation: it resumes on the new connection, the text exactly the undisturbed one, each piece once", async () => {
  const { node, port } = await startNode({ limits: { maxTokens: 1000 } });
  const relay = await Relay.start(port);
  const client = new ModelNodeClient(relay.url, { model: MODEL, reconnect: FAST_RECONNECT });
  const states: ConnectionState[] = [];
  client.on("statechange", (event) => states.push(event.state));
  try {
    const options = { prompt: "A long story:", max_tokens: 300, temperature: 0 };
    const undisturbed = await client.generate(options);
    const gen = client.generate(options);
    const pieces: string[] = [];
    for await (const piece of gen) {
      pieces.push(piece);
      if (pieces.length === 3) relay.cut();
    }
    const result = await gen;
    assert.ok(states.includes("reconnecting"), "the connection was lost mid-stream");
    assert.equal(pieces.join(""), undisturbed.text);
    assert.equal(result.text, undisturbed.text);
    assert.equal(result.usage.completion_tokens, undisturbed.usage.completion_tokens);
    const generated = (node.getStats().inference as { finish_reasons: Record<string, number> }).finish_reasons;
    assert.equal(generated.cancelled, 1, "the node cancelled the generation of the lost connection; the resumed one finished");
  } finally {
    await client.close();
    await relay.close();
    await node.close();
  }
});
