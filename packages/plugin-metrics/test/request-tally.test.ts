/** RequestTally writes what prom-client's own Counter and Histogram write for the same requests. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Counter, Histogram, Registry } from "prom-client";
import { BUCKETS } from "../src/index.js";
import { RequestTally } from "../src/request-tally.js";

test("RequestTally: the same /metrics text as prom-client's Counter and Histogram (buckets, +Inf, sum, count per label set)", async () => {
  const requests: [string, string, number][] = [
    ["standard", "heartbeat", 0.0003],
    ["standard", "heartbeat", 0.0005], // on a bound: counted in that bucket (le is "less or equal")
    ["standard", "inference_request", 0.7],
    ["http", "POST /v1/chat/completions", 2.2],
    ["standard", "heartbeat", 0.002],
    ["legacy", "legacy", 500], // over the largest bound: +Inf only
  ];
  const names = { countName: "x_messages_total", durationName: "x_message_duration_seconds", countHelp: "count", durationHelp: "duration" };
  const tallied = new Registry();
  const tally = new RequestTally({ ...names, buckets: BUCKETS.messageDuration, registry: tallied });
  const reference = new Registry();
  const counter = new Counter({ name: names.countName, help: names.countHelp, labelNames: ["protocol", "type"], registers: [reference] });
  const histogram = new Histogram({
    name: names.durationName,
    help: names.durationHelp,
    labelNames: ["protocol", "type"],
    buckets: [...BUCKETS.messageDuration],
    registers: [reference],
  });
  for (const [protocol, type, seconds] of requests) {
    tally.record(protocol, type, seconds);
    counter.inc({ protocol, type });
    histogram.observe({ protocol, type }, seconds);
  }
  const text = await tallied.metrics();
  assert.equal(text, await reference.metrics());
  assert.match(text, /x_messages_total\{protocol="standard",type="heartbeat"\} 3\n/);
  assert.match(text, /x_message_duration_seconds_bucket\{le="0\.0005",protocol="standard",type="heartbeat"\} 2\n/);
});
