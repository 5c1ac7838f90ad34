/** ModelHistogram writes what prom-client's own Histogram writes for the same observations. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Histogram, Registry } from "prom-client";
import { BUCKETS } from "../src/index.js";
import { ModelHistogram } from "../src/model-histogram.js";

test("ModelHistogram: the same /metrics text as prom-client's Histogram labelled by model (buckets, +Inf, sum, count per model)", async () => {
  const observations: [string, number][] = [
    ["tiny", 0.0004],
    ["tiny", 0.005], // on a bound: counted in that bucket (le is "less or equal")
    ["llama", 0.021],
    ["tiny", 0.03],
    ["llama", 42], // over the largest bound: +Inf only
  ];
  const name = "x_inter_token_latency_seconds";
  const tallied = new Registry();
  const histogram = new ModelHistogram(name, "gaps", BUCKETS.interTokenLatency, tallied);
  const reference = new Registry();
  const expected = new Histogram({ name, help: "gaps", labelNames: ["model"], buckets: [...BUCKETS.interTokenLatency], registers: [reference] });
  for (const [model, seconds] of observations) {
    histogram.observe(model, seconds);
    expected.observe({ model }, seconds);
  }
  const text = await tallied.metrics();
  assert.equal(text, await reference.metrics());
  assert.match(text, /x_inter_token_latency_seconds_bucket\{le="0\.005",model="tiny"\} 2\n/);
  assert.match(text, /x_inter_token_latency_seconds_count\{model="llama"\} 2\n/);
});
