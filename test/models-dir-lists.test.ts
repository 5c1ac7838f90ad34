// A models directory end to end (docs/models.md, "A models directory"): the example node started
// with `modelsDir` over a temp folder of copies of the bundled tiny model (test/support/models-dir.ts)
// lists every model unloaded with its size (OpenAI, Ollama, WebSocket), loads a model once for
// concurrent first requests, then shows it loaded everywhere, with /metrics counting the load; an
// unknown name is still MODEL_NOT_FOUND.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Ollama } from "ollama";
import { TestClient } from "@modelnode/testing";
import { pipelineStats } from "./support/node.js";
import { complete, getJson, openaiOf, type ApiError, makeModelsDir, type ModelsDir } from "./support/models-dir.js";

let dir: ModelsDir;
before(() => {
  dir = makeModelsDir();
});
after(() => dir.close());

test("the directory's models are listed unloaded with their size, load once on concurrent first requests, and every list shows them loaded", async () => {
  const { base, running } = await dir.start({ keepAlive: "10m" });
  const models = await getJson(`${base}/v1/models`);
  assert.deepEqual(
    models.data.map((m: any) => [m.id, m.state]),
    [["alpha", "unloaded"], ["gamma", "unloaded"], ["org/beta", "unloaded"]],
  );
  assert.equal(models.data.find((m: any) => m.id === "alpha").size_bytes, dir.tinyBytes);
  assert.deepEqual((await getJson(`${base}/api/ps`)).models, []);
  const tags = await new Ollama({ host: base }).list();
  assert.equal(tags.models.find((m) => m.name === "gamma")?.size, dir.tinyBytes);

  const answers = await Promise.all([1, 2, 3, 4].map(() => complete(base, "org/beta")));
  assert.ok(answers.every((answer) => answer.choices[0].text.length > 0));
  assert.equal(pipelineStats(running.node).modelLoads, 1, "four concurrent first requests, one load");

  assert.equal((await getJson(`${base}/v1/models`)).data.find((m: any) => m.id === "org/beta").state, "loaded");
  // models.retrieve() escapes the slash of an org/name id: one path segment.
  const retrieved = (await openaiOf(base).models.retrieve("org/beta")) as unknown as { id: string; state: string };
  assert.deepEqual([retrieved.id, retrieved.state], ["org/beta", "loaded"]);
  const ps = await new Ollama({ host: base }).ps();
  assert.deepEqual(ps.models.map((m) => m.name), ["org/beta"]);
  const expires = new Date(ps.models[0].expires_at).getTime();
  assert.ok(expires > Date.now() + 9 * 60_000 && expires <= Date.now() + 10 * 60_000, `expires_at ${ps.models[0].expires_at} is ~10 minutes away`);
  const client = await TestClient.connect(`ws://127.0.0.1:${running.port}`);
  try {
    const reply = (await client.call("list_models", {})) as any;
    assert.deepEqual(reply.models.map((m: any) => [m.id, m.state]), [["alpha", "unloaded"], ["gamma", "unloaded"], ["org/beta", "loaded"]]);
  } finally {
    client.close();
  }
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /^modelnode_model_loads_total 1$/m);
  assert.match(metrics, /^modelnode_models_loaded 1$/m);

  const unknown = await complete(base, "no-such-model", 2, true).catch((error: unknown) => error as ApiError);
  assert.equal((unknown as ApiError).status, 404);
  assert.equal(((unknown as ApiError).error as any)?.code, "model_not_found");
});
