/**
 * A worker process for the scale-out tests: `node nats-worker.js <nats url[,url…]> <name>`, a
 * ContinuingFake whose tokens take NATS_TEST_TOKEN_MS each, and whose legacy steps after the
 * first take NATS_TEST_STEP_MS (default 0: a test can SIGKILL it mid-step); prints "ready" once
 * subscribed and drains on SIGTERM.
 */
import { startWorker } from "@modelnode/nats";
import { ContinuingFake } from "./nats.js";

const [url, name] = process.argv.slice(2);
const pipeline = new ContinuingFake([{ id: "fake", contextLength: 4096, vocabSize: 128, eosTokenIds: [] }]);
const ms = Number(process.env.NATS_TEST_TOKEN_MS ?? 5);
pipeline.tokenDelay = () => new Promise((r) => setTimeout(r, ms));
const stepMs = Number(process.env.NATS_TEST_STEP_MS ?? 0);
const step = pipeline.step.bind(pipeline);
pipeline.step = async (request) => {
  if (request.step > 0 && stepMs > 0) await new Promise((r) => setTimeout(r, stepMs));
  return step(request);
};
const worker = await startWorker({
  servers: url.split(","),
  pipeline,
  name,
  maxInFlight: Number(process.env.NATS_TEST_MAX_IN_FLIGHT ?? 8),
});
process.on("SIGTERM", () => {
  void worker.drain(Number(process.env.NATS_TEST_DRAIN_MS ?? 5000)).then(() => process.exit(0));
});
console.log("ready");
