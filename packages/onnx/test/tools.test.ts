/**
 * Tool calling on the ONNX pipeline (tiny GPT-2, random weights, temperature 1): the family is
 * recognised from the chat template; a template that knows no tools gets the Hermes preamble; a
 * Llama-3-style template gets Llama 3 JSON calls; "required" and a named function constrain the
 * calls so that their arguments validate; bad tools are refused naming the field.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { parseToolCalls, type ToolSpec } from "@modelnode/core";
import { ChatTemplate, toolSupport } from "../src/shared/chat-template.js";
import { withToolPreamble } from "../src/shared/tool-grammar.js";
import { createOnnxPipeline, type OnnxPipeline } from "../src/index.js";
import { copyTinyModel, pipelineError } from "./helpers.js";

/** A Llama-3.1-like template of this test's own: tools as JSON, calls as {"name", "parameters"}. */
const LLAMA_LIKE =
  "{{ bos_token }}{% if tools %}<|system|>\nTo call a function, reply with {\"name\": function name, \"parameters\": dictionary of arguments}.\n" +
  "{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}{% endif %}" +
  "{% for message in messages %}<|{{ message.role }}|>\n{% if message.tool_calls %}{% for call in message.tool_calls %}" +
  '{"name": "{{ call.function.name }}", "parameters": {{ call.function.arguments | tojson }}}{% endfor %}{% else %}{{ message.content }}{% endif %}\n{% endfor %}<|assistant|>\n';
const HERMES_LIKE = "{% for message in messages %}{{ message.content }}{% endfor %}{% if tools %}<tools>{% for tool in tools %}{{ tool | tojson }}{% endfor %}</tools> write <tool_call>{% endif %}";

const TOOLS: ToolSpec[] = [
  {
    type: "function",
    function: {
      name: "pick",
      description: "Pick a colour",
      parameters: { type: "object", properties: { colour: { type: "string", enum: ["red", "blue"] }, n: { type: "integer", minimum: 0, maximum: 9 } }, required: ["colour", "n"] },
    },
  },
  { type: "function", function: { name: "ping", parameters: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] } } },
];
const ajv = new Ajv({ strict: false });
const validate = new Map(TOOLS.map((tool) => [tool.function.name, ajv.compile(tool.function.parameters!)]));
const names = new Set(TOOLS.map((tool) => tool.function.name));
const MESSAGES = [{ role: "user", content: "Pick one." }];

test("the family is recognised from the template: <tool_call> → Hermes; \"parameters\" → Llama 3 JSON; none, or tools unknown → the Hermes preamble", () => {
  assert.deepEqual(toolSupport(HERMES_LIKE), { format: "hermes", knowsTools: true });
  assert.deepEqual(toolSupport(LLAMA_LIKE), { format: "llama3_json", knowsTools: true });
  assert.deepEqual(toolSupport(undefined), { format: "hermes", knowsTools: false });
  assert.deepEqual(toolSupport("{% for m in messages %}{{ m.content }}{% endfor %}"), { format: "hermes", knowsTools: false });
  assert.deepEqual(toolSupport("{% if tools %}{{ tools }}{% endif %}"), { format: "hermes", knowsTools: false });
});

test("the preamble: the tools listed in a system turn (merged into one already there), calls as <tool_call> blocks, tool results as user turns", () => {
  const chat = withToolPreamble(
    [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "", tool_calls: [{ id: "call_1", type: "function", function: { name: "ping", arguments: '{"ok": true}' } }] },
      { role: "tool", content: "pong", tool_call_id: "call_1" },
    ],
    TOOLS,
  );
  assert.equal(chat.length, 4);
  assert.match(chat[0].content, /^Be brief\.\n\nYou may call functions[\s\S]*<tools>\n\{"type":"function","function":\{"name":"pick"[\s\S]*<\/tools>[\s\S]*<tool_call>/);
  assert.equal(chat[2].content, '<tool_call>\n{"name": "ping", "arguments": {"ok": true}}\n</tool_call>');
  assert.deepEqual(chat[3], { role: "user", content: "<tool_response>\npong\n</tool_response>" });
  const text = ChatTemplate.load("m", "/nonexistent", { chat_template: LLAMA_LIKE, bos_token: "<s>" }).render(
    [...MESSAGES, { role: "assistant", content: "", tool_calls: [{ id: "c", type: "function", function: { name: "ping", arguments: '{"ok":false}' } }] }],
    TOOLS,
  );
  assert.match(text, /^<s><\|system\|>\n[\s\S]*\{"type": "function", "function": \{"name": "pick"/);
  assert.match(text, /<\|assistant\|>\n\{"name": "ping", "parameters": \{"ok": false\}\}<\|assistant\|>\n?$/, "the template sees the arguments as an object");
});

describe("constrained calls on the pipeline", () => {
  let pipeline: OnnxPipeline;
  const cleanups: (() => void)[] = [];
  before(async () => {
    const plain = copyTinyModel(); // no chat template: the fallback, Hermes calls
    const llama = copyTinyModel();
    const config = join(llama.dir, "tokenizer_config.json");
    writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(config, "utf8")), chat_template: LLAMA_LIKE }));
    cleanups.push(plain.cleanup, llama.cleanup);
    pipeline = await createOnnxPipeline({ models: { plain: { dir: plain.dir }, llama: { dir: llama.dir } }, threads: 1, maxTools: 4 });
  });
  after(async () => {
    await pipeline?.close();
    for (const cleanup of cleanups) cleanup();
  });

  test("the models report their formats", () => {
    const formats = Object.fromEntries(pipeline.listModels().map((m) => [m.id, m.toolCallFormat]));
    assert.deepEqual(formats, { plain: "hermes", llama: "llama3_json" });
  });

  for (const [modelId, format] of [
    ["plain", "hermes"],
    ["llama", "llama3_json"],
  ] as const) {
    test(`${modelId}: "required" and a named function give calls whose arguments validate (5 seeds, temperature 1)`, async () => {
      for (const toolChoice of ["required", { type: "function", function: { name: "ping" } }] as const) {
        for (let seed = 0; seed < 5; seed++) {
          const result = await pipeline.generate({ modelId, messages: MESSAGES, tools: TOOLS, toolChoice, parallelToolCalls: false, temperature: 1, seed, maxTokens: 80 });
          const { calls, content } = parseToolCalls(result.text, { format, names });
          assert.equal(result.finishReason, "stop", result.text);
          assert.equal(calls.length, 1, result.text);
          assert.equal(content, null, result.text);
          if (typeof toolChoice === "object") assert.equal(calls[0].function.name, "ping");
          const check = validate.get(calls[0].function.name)!;
          assert.ok(check(JSON.parse(calls[0].function.arguments)), `${result.text}: ${ajv.errorsText(check.errors)}`);
        }
      }
    });
  }

  test('tools and a JSON schema together: "auto" replies either call or are that JSON (each forced by a bias on a token only its opening has); "required" only calls', async () => {
    const answer = { type: "object", properties: { done: { type: "boolean" } }, required: ["done"] };
    const checkAnswer = ajv.compile(answer);
    const grammar = { type: "json_schema" as const, schema: answer };
    // Hermes calls open with "<tool_call>", the answer with "{"; Llama 3 JSON calls with {"name", the answer with {"done.
    for (const [modelId, format, call, json] of [
      ["plain", "hermes", ["<tool_call>", 0], ["{", 0]],
      ["llama", "llama3_json", ['{"name', 1], ['{"done', 1]],
    ] as const) {
      const token = async ([text, at]: readonly [string, number]) => (await pipeline.tokenize(modelId, text)).ids[at];
      for (const [logitBias, expect] of [
        [{ [await token(call)]: 100 }, "call"],
        [{ [await token(json)]: 100 }, "json"],
        [undefined, "either"],
      ] as const) {
        for (const seed of [1, 2, 3]) {
          const result = await pipeline.generate({ modelId, messages: MESSAGES, tools: TOOLS, grammar, temperature: 1, seed, maxTokens: 80, parallelToolCalls: false, ...(logitBias ? { logitBias } : {}) });
          assert.equal(result.finishReason, "stop", `${modelId} ${expect}: ${result.text}`);
          const { calls, content } = parseToolCalls(result.text, { format, names });
          if (calls.length > 0) {
            assert.notEqual(expect, "json", result.text);
            assert.equal(content, null, result.text);
            const check = validate.get(calls[0].function.name)!;
            assert.ok(check(JSON.parse(calls[0].function.arguments)), result.text);
          } else {
            assert.notEqual(expect, "call", result.text);
            assert.ok(checkAnswer(JSON.parse(result.text)), result.text);
          }
        }
      }
      // "required" with the same grammar: calls only, even pushed toward the answer.
      const required = await pipeline.generate({ modelId, messages: MESSAGES, tools: TOOLS, toolChoice: "required", grammar, temperature: 1, seed: 4, maxTokens: 80, parallelToolCalls: false, logitBias: { [await token(json)]: 100 } });
      assert.equal(parseToolCalls(required.text, { format, names }).calls.length, 1, required.text);
    }
  });

  test("bad tools are INVALID_REQUEST / INVALID_GRAMMAR naming the field", async () => {
    const run = (fields: Record<string, unknown>) => pipeline.generate({ modelId: "plain", messages: MESSAGES, maxTokens: 2, ...fields });
    const field = (name: string) => (error: unknown) => (error as { details?: { field?: string } }).details?.field === name;
    const cases: [Record<string, unknown>, string, string][] = [
      [{ tools: [] }, "INVALID_REQUEST", "tools"],
      [{ tools: Array.from({ length: 5 }, (_, i) => ({ type: "function", function: { name: `f${i}` } })) }, "INVALID_REQUEST", "tools"],
      [{ tools: [{ type: "function", function: { name: "a b" } }] }, "INVALID_REQUEST", "tools[0].function.name"],
      [{ tools: [TOOLS[0], TOOLS[0]] }, "INVALID_REQUEST", "tools[1].function.name"],
      [{ tools: TOOLS, toolChoice: { type: "function", function: { name: "nope" } } }, "INVALID_REQUEST", "tool_choice"],
      [{ tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: { x: { not: {} } } } } }], toolChoice: "required" }, "INVALID_GRAMMAR", "tools[0].function.parameters"],
      [{ tools: [{ type: "function", function: { name: "f", parameters: { type: "array" } } }], toolChoice: "required" }, "INVALID_GRAMMAR", "tools[0].function.parameters"],
      [{ tools: TOOLS, messages: undefined, prompt: "x" }, "INVALID_REQUEST", "tools"],
      // A reply format beside the tools that xgrammar cannot read is named as itself, not as the tools.
      [{ tools: TOOLS, grammar: { type: "regex", pattern: "(" } }, "INVALID_GRAMMAR", "grammar.pattern"],
    ];
    for (const [fields, code, name] of cases) {
      await assert.rejects(run(fields), (error: unknown) => pipelineError(code)(error) && field(name)(error), JSON.stringify(fields));
    }
  });
});
