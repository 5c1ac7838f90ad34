// @modelnode/testing: what a plugin's tests need to talk to a real node over a real socket.
export { header, type TestHeader } from "./header.js";
export { TestClient, upgradeOutcome, type CloseEvent, type TestClientOptions } from "./client.js";
export { replyChecker, type ReplyChecker } from "./reply-checker.js";
export { eventually, listenOnFreePort, sleep, startTestNode, type RunningNode } from "./node.js";
export { LogCapture, type LogLine } from "./logs.js";
export { fakeConnection, invokeHandler, type FakeConnection, type Frame } from "./harness.js";
export { FakePipeline, FAKE_MODELS } from "./fake-pipeline.js";
