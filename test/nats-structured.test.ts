// Structured output through the NATS gateway, with a worker SIGKILLed mid-stream: sampled
// (temperature 1) generations constrained by JSON schemas and a regex, many at once so that they
// share batches on the workers (each worker takes them all, so the survivor can take the dead
// one's), and one worker killed while they run. The gateway resumes each of
// that worker's streams on the other from the pieces already delivered, the grammar's state
// rebuilt from those ids — so every output still parses and validates (ajv), and none is lost.
// (Validity is what this test checks; that the sampler's state, which travels too, gives exactly
// an undisturbed run's text is nats-resume-sampled.test.ts's.)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { Ajv } from "ajv";
import type { GenerationResult, GrammarSpec } from "@modelnode/core/pipeline";
import { NatsPipeline } from "@modelnode/nats";
import { eventually } from "@modelnode/testing";
import { ONNX_WORKER, skipWithoutNats, spawnWorker, startNatsServer, type NatsServer } from "./support/nats.js";

const SEEDS = Number(process.env.NATS_STRUCTURED_SEEDS ?? 50);

const SCHEMAS: Record<string, Record<string, unknown>> = {
  order: {
    type: "object",
    additionalProperties: false,
    required: ["sku", "qty", "gift"],
    properties: {
      sku: { type: "string", pattern: "^[A-Z]{3}[0-9]{2}$" },
      qty: { type: "integer", minimum: 1, maximum: 20 },
      gift: { type: "boolean" },
      note: { type: "string", maxLength: 8 },
    },
  },
  list: {
    type: "object",
    additionalProperties: false,
    required: ["items"],
    properties: {
      items: {
        type: "array",
        minItems: 2,
        maxItems: 4,
        items: { type: "object", additionalProperties: false, required: ["k", "v"], properties: { k: { enum: ["x", "y", "z"] }, v: { type: "number", minimum: -1, maximum: 1 } } },
      },
    },
  },
};
const REGEX = "[a-z]{3}-[0-9]{2}( [a-z]{2,4}){3}";

let nats: NatsServer;
const workers = new Map<string, ChildProcess>();
let gateway: NatsPipeline;

before(async () => {
  if (skipWithoutNats) return;
  nats = await startNatsServer();
  for (const name of ["g0", "g1"]) workers.set(name, await spawnWorker(nats.url, name, { NATS_TEST_TOKEN_MS: "8", NATS_TEST_MAX_IN_FLIGHT: String(3 * SEEDS) }, ONNX_WORKER));
  gateway = await NatsPipeline.connect({ servers: nats.url, idleMs: 300, requestTimeoutMs: 500 });
  await eventually(() => gateway.workers().length === 2, "both workers known to the gateway");
});
after(async () => {
  await gateway?.close();
  for (const child of workers.values()) child.kill("SIGKILL");
  await nats?.stop();
});

test(`${SEEDS} seeds × (2 JSON schemas + a regex) at temperature 1 through the gateway, a worker SIGKILLed mid-stream: every output is valid`, { skip: skipWithoutNats, timeout: 180_000 }, async () => {
  const ajv = new Ajv({ strict: false });
  const kinds: { name: string; grammar: GrammarSpec; valid: (text: string) => boolean }[] = [
    ...Object.entries(SCHEMAS).map(([name, schema]) => {
      const validate = ajv.compile(schema);
      return { name, grammar: { type: "json_schema", schema } as GrammarSpec, valid: (text: string) => validate(JSON.parse(text)) };
    }),
    { name: "regex", grammar: { type: "regex", pattern: REGEX } as GrammarSpec, valid: (text: string) => new RegExp(`^(?:${REGEX})$`).test(text) },
  ];
  let delivered = 0;
  let killed: string | undefined;
  const killOnce = async () => {
    if (killed !== undefined || delivered < SEEDS * kinds.length * 3) return;
    // The worker serving the most streams, by its heartbeat.
    const busiest = [...gateway.workers()].filter((w) => workers.has(w.worker)).sort((a, b) => b.inFlight - a.inFlight)[0];
    if (!busiest || busiest.inFlight === 0) return;
    killed = busiest.worker;
    workers.get(killed)!.kill("SIGKILL");
    workers.delete(killed);
  };
  const before = { ...(gateway.stats() as Record<string, number>) };
  const runs = kinds.flatMap((kind) =>
    Array.from({ length: SEEDS }, async (_, seed) => {
      let text = "";
      let result: GenerationResult | undefined;
      for await (const event of gateway.stream({ modelId: "tiny", prompt: `${kind.name} ${seed}:`, temperature: 1, seed, maxTokens: 200, grammar: kind.grammar })) {
        if (event.kind === "text") {
          text += event.text;
          delivered++;
          await killOnce();
        } else result = event.result;
      }
      return { kind, seed, text, result: result! };
    }),
  );
  const outputs = await Promise.all(runs);
  assert.ok(killed, "a worker was killed while the streams ran");
  const after = gateway.stats() as Record<string, number>;
  assert.ok(after.workerFailures > before.workerFailures, "the gateway saw the worker fail");
  assert.ok(after.resubmits > before.resubmits, "streams the dead worker held went on on the other");
  for (const { kind, seed, text, result } of outputs) {
    const where = `${kind.name} seed ${seed}: ${JSON.stringify(text)}`;
    assert.equal(result.finishReason, "stop", where);
    assert.equal(result.text, text, `${where}: the result holds what was streamed`);
    assert.ok(kind.valid(text), where);
  }
});
