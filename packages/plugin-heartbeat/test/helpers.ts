/** Test helpers: @modelnode/testing's node and client, and a fake pipeline. */

export { FakePipeline, header, startTestNode as startNode, TestClient } from "@modelnode/testing";

