/**
 * A worker process for the scale-out tests: `node nats-worker.js <nats url[,url…]> <name>`, a
 * ContinuingFake whose tokens take NATS_TEST_TOKEN_MS each; prints "ready" once subscribed and
 * drains on SIGTERM.
 */
import { startWorker } from "@modelnode/nats";
import { ContinuingFake } from "./nats.js";

const [url, name] = process.argv.slice(2);
const pipeline = new ContinuingFake([{ id: "fake", contextLength: 4096, vocabSize: 128, eosTokenIds: [] }]);
const ms = Number(process.env.NATS_TEST_TOKEN_MS ?? 5);
pipeline.tokenDelay = () => new Promise((r) => setTimeout(r, ms));
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
