/**
 * A worker process running the real tiny ONNX model (models/tiny-gpt2, served as "tiny"; and the
 * copy-friendly one, whose greedy text repeats so that speculative decoding's guesses come true,
 * as "copy", built by the test beforehand into COPY_MODEL_DIR) for the scale-out tests: `node nats-onnx-worker.js <nats url> <name>`. Each text piece is held
 * NATS_TEST_TOKEN_MS (default 30) before it goes out, so a test can SIGKILL the worker mid-stream;
 * NATS_TEST_MAX_IN_FLIGHT raises how many generations it takes at once.
 * Prints "ready" once subscribed.
 */
import type { GenerateRequest, GenerationEvent, ModelPipeline } from "@modelnode/core/pipeline";
import { startWorker } from "@modelnode/nats";
import { createOnnxPipeline } from "@modelnode/onnx";
import { COPY_MODEL_DIR, TINY_MODEL_DIR } from "./paths.js";

const [url, name] = process.argv.slice(2);
const ms = Number(process.env.NATS_TEST_TOKEN_MS ?? 30);
const onnx = await createOnnxPipeline({ models: { tiny: TINY_MODEL_DIR, copy: COPY_MODEL_DIR }, speculative: { method: "ngram" } });

async function* paced(events: AsyncIterable<GenerationEvent>): AsyncIterable<GenerationEvent> {
  for await (const event of events) {
    if (event.kind === "text") await new Promise((r) => setTimeout(r, ms));
    yield event;
  }
}
const pipeline = new Proxy(onnx, {
  get(target, key) {
    if (key === "stream") return (request: GenerateRequest) => paced(target.stream(request));
    const value = Reflect.get(target, key, target);
    return typeof value === "function" ? value.bind(target) : value;
  },
}) as ModelPipeline;

// NATS_TEST_MAX_IN_FLIGHT: generations at once (the worker's default, 4, when unset).
const maxInFlight = process.env.NATS_TEST_MAX_IN_FLIGHT ? Number(process.env.NATS_TEST_MAX_IN_FLIGHT) : undefined;
await startWorker({ servers: url, pipeline, name, heartbeatMs: 200, ...(maxInFlight ? { maxInFlight } : {}) });
console.log("ready");
