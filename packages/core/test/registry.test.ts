import { test } from "node:test";
import assert from "node:assert/strict";
// Core first: it loads reflect-metadata, which tsyringe needs before it is evaluated.
import { MessageHandler, z, type HandlerEntry } from "../src/index.js";
import { HandlerRegistry, RegistryError, createNode } from "../src/server.js";
import { container } from "tsyringe";

@MessageHandler("ping", { schema: z.object({}), replyType: "pong" })
class PingHandler {
  handle() {
    return {};
  }
}

@MessageHandler("ping", { schema: z.object({}) })
class OtherPingHandler {
  handle() {
    return {};
  }
}

// A handler decorated without a schema: the registry must refuse it at startup.
@MessageHandler("noschema", {} as never)
class NoSchemaHandler {
  handle() {
    return {};
  }
}

const inPlugin = (entries: HandlerEntry[]) => entries.map((entry) => ({ plugin: "p", entry }));

class Undecorated {
  handle() {
    return {};
  }
}

test("registry maps each type to its handler with its reply type", () => {
  const registry = HandlerRegistry.build(inPlugin([PingHandler]), container.createChildContainer());
  const entry = registry.get("ping");
  assert.ok(entry);
  assert.equal(entry.replyType, "pong");
  assert.equal(entry.className, "PingHandler");
  assert.ok(entry.instance instanceof PingHandler);
  assert.deepEqual(registry.types(), ["ping"]);
});

test("two handlers for one type fail startup naming both classes", async () => {
  await assert.rejects(
    createNode({ logLevel: "silent", plugins: [{ name: "a", handlers: [PingHandler] }, { name: "b", handlers: [OtherPingHandler] }] }),
    (err: Error) =>
      err instanceof RegistryError && /PingHandler/.test(err.message) && /OtherPingHandler/.test(err.message) && /"ping"/.test(err.message),
  );
});

test("a handler without a schema fails startup with a clear error", () => {
  assert.throws(
    () => HandlerRegistry.build(inPlugin([NoSchemaHandler]), container.createChildContainer()),
    /NoSchemaHandler.*schema/,
  );
});

test("a class without @MessageHandler fails startup", () => {
  assert.throws(() => HandlerRegistry.build(inPlugin([Undecorated as never]), container.createChildContainer()), /Undecorated/);
});

test("default reply type is <type>_response", () => {
  @MessageHandler("thing", { schema: z.object({}) })
  class ThingHandler {
    handle() {
      return {};
    }
  }
  const registry = HandlerRegistry.build(inPlugin([ThingHandler]), container.createChildContainer());
  assert.equal(registry.get("thing")?.replyType, "thing_response");
});

test("handlers get their constructor dependencies from the node's container", async () => {
  class Clock {
    now() {
      return 42;
    }
  }
  @MessageHandler("time", { schema: z.object({}) })
  class TimeHandler {
    constructor(readonly clock: Clock) {}
    handle() {
      return { now: this.clock.now() };
    }
  }
  const node = await createNode({
    logLevel: "silent",
    plugins: [{ name: "time", handlers: [TimeHandler], register: (c) => void c.registerSingleton(Clock) }],
  });
  const entry = node.registry.get("time");
  assert.deepEqual((entry?.instance as TimeHandler).handle(), { now: 42 });
});

test("a handler may inject NODE_INFO in its constructor", async () => {
  const { NODE_INFO, inject } = await import("../src/index.js");
  @MessageHandler("whoami", { schema: z.object({}) })
  class WhoAmI {
    constructor(@inject(NODE_INFO) readonly info: { nodeId: string; status(): string }) {}
    handle() {
      return { node: this.info.nodeId, status: this.info.status() };
    }
  }
  const node = await createNode({ logLevel: "silent", nodeId: "n-1", plugins: [{ name: "w", handlers: [WhoAmI] }] });
  assert.deepEqual((node.registry.get("whoami")?.instance as WhoAmI).handle(), { node: "n-1", status: "healthy" });
  await node.close();
});
