/** The page's DOM-free logic: the socket URL, the request from the form, the timing figures. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildRequest, formatMs, formatProbability, formatRate, GenerationTimer, socketUrl, type FormValues } from "../web/request.js";

const FORM: FormValues = {
  model: "tiny-gpt2",
  mode: "prompt",
  prompt: "Hello",
  turns: [],
  max_tokens: "",
  temperature: "",
  top_p: "",
  top_k: "",
  seed: "",
  stop: "",
  json_schema: "",
  top_logprobs: "",
};

test("the socket URL follows the page: ws: under http, wss: under https, same host and port", () => {
  assert.equal(socketUrl({ protocol: "http:", host: "127.0.0.1:8702" }), "ws://127.0.0.1:8702/");
  assert.equal(socketUrl({ protocol: "https:", host: "node.example:443" }), "wss://node.example:443/");
  assert.equal(socketUrl({ protocol: "https:", host: "[::1]:9000" }), "wss://[::1]:9000/");
});

test("empty sampling fields are not sent: the node's defaults apply", () => {
  assert.deepEqual(buildRequest(FORM), { ok: true, request: { model: "tiny-gpt2", prompt: "Hello" } });
});

test("filled fields are sent as numbers; stop sequences one per line", () => {
  const built = buildRequest({ ...FORM, max_tokens: " 200 ", temperature: "0.7", top_p: "0.9", top_k: "40", seed: "7", stop: "\nuser:\r\n\nEND" });
  assert.deepEqual(built, {
    ok: true,
    request: { model: "tiny-gpt2", prompt: "Hello", max_tokens: 200, temperature: 0.7, top_p: 0.9, top_k: 40, seed: 7, stop: ["user:", "END"] },
  });
  // A value equal to a default is still sent as given: what the user typed is what goes.
  assert.deepEqual(buildRequest({ ...FORM, temperature: "0" }), { ok: true, request: { model: "tiny-gpt2", prompt: "Hello", temperature: 0 } });
});

test("a chat sends its turns as messages", () => {
  const built = buildRequest({ ...FORM, mode: "chat", prompt: "ignored", turns: [{ role: " system ", content: "Be brief." }, { role: "user", content: "" }] });
  assert.deepEqual(built, { ok: true, request: { model: "tiny-gpt2", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "" }] } });
  assert.deepEqual(buildRequest({ ...FORM, mode: "chat", turns: [] }), { ok: false, field: "turns", message: "Add at least one chat turn." });
});

test("what cannot be sent names its field", () => {
  const cases: [Partial<FormValues>, keyof FormValues, RegExp][] = [
    [{ model: "" }, "model", /Pick a model/],
    [{ prompt: "" }, "prompt", /Type a prompt/],
    [{ max_tokens: "0" }, "max_tokens", /Max tokens must be a whole number 1 or more/],
    [{ max_tokens: "1.5" }, "max_tokens", /whole number/],
    [{ max_tokens: "ten" }, "max_tokens", /whole number/],
    [{ temperature: "2.5" }, "temperature", /Temperature must be a number from 0 to 2/],
    [{ top_p: "0" }, "top_p", /Top p must be a number greater than 0 and at most 1/],
    [{ top_k: "-1" }, "top_k", /Top k/],
    [{ seed: "1e30" }, "seed", /Seed/],
  ];
  for (const [change, field, message] of cases) {
    const built = buildRequest({ ...FORM, ...change });
    assert.equal(built.ok, false, JSON.stringify(change));
    if (!built.ok) {
      assert.equal(built.field, field);
      assert.match(built.message, message);
    }
  }
});

test("time to first token and the decode rate after it", () => {
  const timer = new GenerationTimer(1000);
  assert.equal(timer.timeToFirstTokenMs, undefined);
  assert.equal(timer.tokensPerSecond, undefined);
  timer.piece(1250);
  assert.equal(timer.timeToFirstTokenMs, 250);
  assert.equal(timer.tokensPerSecond, undefined, "one token gives no rate");
  timer.piece(1350);
  timer.piece(1450);
  assert.equal(timer.tokenCount, 3);
  assert.equal(timer.tokensPerSecond, 10); // 2 tokens after the first, in 0.2 s
  timer.finish(1450, 4); // a piece may hold several tokens: usage wins
  assert.equal(timer.tokenCount, 4);
  assert.equal(timer.tokensPerSecond, 15);
  assert.equal(formatMs(250), "250 ms");
  assert.equal(formatMs(1234), "1.23 s");
  assert.equal(formatMs(undefined), "–");
  assert.equal(formatRate(15), "15.0");
  assert.equal(formatRate(245.4), "245");
});

test("a JSON schema is sent as response_format json_schema; text that is not a JSON object is refused naming the field", () => {
  const schema = { type: "object", properties: { name: { type: "string" } }, required: ["name"] };
  assert.deepEqual(buildRequest({ ...FORM, json_schema: ` ${JSON.stringify(schema)}\n` }), {
    ok: true,
    request: { model: "tiny-gpt2", prompt: "Hello", response_format: { type: "json_schema", json_schema: { name: "playground", schema } } },
  });
  const broken = buildRequest({ ...FORM, json_schema: "{type: object}" });
  assert.equal(broken.ok, false);
  assert.equal(!broken.ok && broken.field, "json_schema");
  assert.match(!broken.ok ? broken.message : "", /not JSON/);
  for (const notObject of ["[]", "\"object\"", "null", "3"]) {
    const built = buildRequest({ ...FORM, json_schema: notObject });
    assert.deepEqual(built, { ok: false, field: "json_schema", message: 'The JSON schema must be an object, such as {"type": "object"}.' }, notObject);
  }
});

test("top log probabilities turn logprobs on (0 too: the chosen token's own); outside 0–20 is refused", () => {
  assert.deepEqual(buildRequest({ ...FORM, top_logprobs: "3" }), { ok: true, request: { model: "tiny-gpt2", prompt: "Hello", top_logprobs: 3, logprobs: true } });
  assert.deepEqual(buildRequest({ ...FORM, top_logprobs: "0" }), { ok: true, request: { model: "tiny-gpt2", prompt: "Hello", top_logprobs: 0, logprobs: true } });
  for (const bad of ["21", "-1", "1.5", "x"]) {
    const built = buildRequest({ ...FORM, top_logprobs: bad });
    assert.equal(built.ok, false, bad);
    assert.equal(!built.ok && built.field, "top_logprobs");
  }
});

test("probabilities read as percentages", () => {
  assert.equal(formatProbability(Math.log(0.42)), "42%");
  assert.equal(formatProbability(Math.log(0.031)), "3.1%");
  assert.equal(formatProbability(Math.log(0.00001)), "<0.1%");
  assert.equal(formatProbability(-9999), "<0.1%");
});
