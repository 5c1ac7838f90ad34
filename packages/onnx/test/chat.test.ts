import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import type { ChatMessage } from "@modelnode/core/pipeline";
import { ChatTemplate } from "../src/shared/chat-template.js";
import { createOnnxPipeline, FALLBACK_CHAT_TEMPLATE, ModelLoadError, type OnnxPipeline } from "../src/index.js";
import { copyTinyModel, outcome, pipelineError, streamed, TINY_MODEL_DIR } from "./helpers.js";

/** A Zephyr-like template: BOS and EOS from the tokenizer's special tokens, and a raise for unknown roles. */
const TEMPLATE =
  "{{ bos_token }}{% for message in messages %}" +
  "{% if message.role not in ['system', 'user', 'assistant'] %}{{ raise_exception('Unknown role: ' + message.role) }}{% endif %}" +
  "<|{{ message.role }}|>\n{{ message.content }}{{ eos_token }}\n{% endfor %}" +
  "{% if add_generation_prompt %}<|assistant|>\n{% endif %}";

const EOT = "<|endoftext|>"; // GPT-2's BOS and EOS alike
const CHAT: ChatMessage[] = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "Hello, how are you?" },
];
/** TEMPLATE rendered for CHAT, written out by hand. */
const CHAT_TEXT = `${EOT}<|system|>\nBe brief.${EOT}\n<|user|>\nHello, how are you?${EOT}\n<|assistant|>\n`;

/** What transformers.js's apply_chat_template renders: @huggingface/jinja with the same variables. */
function jinjaRender(template: string, messages: ChatMessage[], tokenizerConfig: Record<string, unknown>): string {
  return new Template(template).render({
    messages,
    add_generation_prompt: true,
    tools: null,
    documents: null,
    bos_token: tokenizerConfig.bos_token,
    eos_token: tokenizerConfig.eos_token,
    unk_token: tokenizerConfig.unk_token,
  });
}

function editJson(file: string, edit: (json: Record<string, any>) => void): void {
  const json = JSON.parse(readFileSync(file, "utf8"));
  edit(json);
  writeFileSync(file, JSON.stringify(json));
}

/** Makes the tokenizer add BOS to every text it encodes with special tokens (as Llama's does). */
function addBosPostProcessor(dir: string): void {
  editJson(join(dir, "tokenizer.json"), (json) => {
    json.post_processor = {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: EOT, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [{ SpecialToken: { id: EOT, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: { [EOT]: { id: EOT, ids: [50256], tokens: [EOT] } },
    };
  });
}

describe("chat templates", () => {
  let pipeline: OnnxPipeline;
  const copies: (() => void)[] = [];
  const copy = (edit: (dir: string) => void) => {
    const { dir, cleanup } = copyTinyModel();
    copies.push(cleanup);
    edit(dir);
    return dir;
  };
  const withTemplate = (dir: string) => editJson(join(dir, "tokenizer_config.json"), (json) => (json.chat_template = TEMPLATE));

  before(async () => {
    pipeline = await createOnnxPipeline({
      models: {
        tiny: TINY_MODEL_DIR, // no template: the fallback
        chat: copy(withTemplate),
        "chat-bos": copy((dir) => (withTemplate(dir), addBosPostProcessor(dir))), // a tokenizer that adds BOS, a template that writes one
        "plain-bos": copy(addBosPostProcessor), // a tokenizer that adds BOS, no template
      },
      maxChatMessages: 6,
      maxChatChars: 200,
      maxTokensCeiling: 40,
    });
  });
  after(async () => {
    await pipeline.close();
    for (const cleanup of copies) cleanup();
  });

  test("listModels reports hasChatTemplate", () => {
    assert.deepEqual(
      pipeline.listModels().map(({ id, hasChatTemplate }) => ({ id, hasChatTemplate })),
      [
        { id: "tiny", hasChatTemplate: false },
        { id: "chat", hasChatTemplate: true },
        { id: "chat-bos", hasChatTemplate: true },
        { id: "plain-bos", hasChatTemplate: false },
      ],
    );
  });

  test("messages are rendered exactly as @huggingface/jinja renders the model's template, special tokens included", async () => {
    const tokenizerConfig = JSON.parse(readFileSync(join(TINY_MODEL_DIR, "tokenizer_config.json"), "utf8"));
    assert.equal(jinjaRender(TEMPLATE, CHAT, tokenizerConfig), CHAT_TEXT);
    const chat = await pipeline.generate({ modelId: "chat", messages: CHAT, maxTokens: 12 });
    const prompt = await pipeline.generate({ modelId: "chat", prompt: CHAT_TEXT, maxTokens: 12 });
    assert.equal(chat.usage.promptTokens, await pipeline.countTokens("chat", CHAT_TEXT));
    assert.deepEqual(outcome(chat), outcome(prompt), "greedy output for the messages is greedy output for the rendered text");
    assert.ok(chat.text.length > 0);
    // Streamed, the same.
    const { pieces, result } = await streamed(pipeline.stream({ modelId: "chat", messages: CHAT, maxTokens: 12 }));
    assert.equal(pieces.join(""), chat.text);
    assert.deepEqual(outcome(result), outcome(chat));
  });

  test("a template that writes BOS is not given a second one by a tokenizer that adds BOS", async () => {
    const { ids } = await pipeline.tokenize("chat-bos", CHAT_TEXT);
    // A prompt that writes its own BOS is not given a second one either (see model-dtypes' BOS test).
    assert.equal(ids[0], 50256);
    assert.notEqual(ids[1], 50256, "one BOS, not two");
    const chat = await pipeline.generate({ modelId: "chat-bos", messages: CHAT, maxTokens: 12 });
    assert.equal(chat.usage.promptTokens, ids.length);
    // The same ids as the text without its BOS, to which the tokenizer adds one.
    const prompt = await pipeline.generate({ modelId: "chat-bos", prompt: CHAT_TEXT.slice(EOT.length), maxTokens: 12 });
    assert.deepEqual(outcome(chat), outcome(prompt));
  });

  test("a model without a template uses the documented fallback, encoded as a prompt is", async () => {
    const fallbackText = "system: Be brief.\nuser: Hello, how are you?\nassistant:";
    assert.equal(new Template(FALLBACK_CHAT_TEMPLATE).render({ messages: CHAT, add_generation_prompt: true }), fallbackText);
    for (const modelId of ["tiny", "plain-bos"]) {
      const chat = await pipeline.generate({ modelId, messages: CHAT, maxTokens: 10 });
      const prompt = await pipeline.generate({ modelId, prompt: fallbackText, maxTokens: 10 });
      assert.deepEqual(outcome(chat), outcome(prompt), modelId);
      assert.equal(chat.usage.promptTokens, await pipeline.countTokens(modelId, fallbackText), modelId);
    }
    // plain-bos's tokenizer adds its BOS to the fallback's text, once.
    assert.equal(await pipeline.countTokens("plain-bos", fallbackText), (await pipeline.countTokens("tiny", fallbackText)) + 1);
  });

  test("a template that raises, or messages it fails on, are INVALID_REQUEST with the template's message", async () => {
    const messages = [{ role: "narrator", content: "42" }];
    await assert.rejects(pipeline.generate({ modelId: "chat", messages }), (error: any) => {
      pipelineError("INVALID_REQUEST")(error);
      assert.match(error.message, /chat template of model "chat": Unknown role: narrator\.$/);
      assert.deepEqual(error.details, { field: "messages" });
      return true;
    });
    await assert.rejects(streamed(pipeline.stream({ modelId: "chat", messages })), pipelineError("INVALID_REQUEST"));
    // The fallback takes any role.
    assert.equal((await pipeline.generate({ modelId: "tiny", messages, maxTokens: 1 })).usage.completionTokens, 1);
  });

  test("exactly one of prompt and messages; messages bounded and well formed: else INVALID_REQUEST naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ prompt: "Hi", messages: CHAT }, "messages"],
      [{}, "prompt"],
      [{ messages: [] }, "messages"],
      [{ messages: "Hi" }, "messages"],
      [{ messages: Array.from({ length: 7 }, () => ({ role: "user", content: "x" })) }, "messages"],
      [{ messages: [{ role: "user", content: "x".repeat(150) }, { role: "assistant", content: "y".repeat(51) }] }, "messages"],
      [{ messages: [null] }, "messages[0]"],
      [{ messages: [{ content: "x" }] }, "messages[0].role"],
      [{ messages: [{ role: "", content: "x" }] }, "messages[0].role"],
      [{ messages: [{ role: 5, content: "x" }] }, "messages[0].role"],
      [{ messages: [{ role: "r".repeat(65), content: "x" }] }, "messages[0].role"],
      [{ messages: [{ role: "user", content: "x" }, { role: "user", content: ["x"] }] }, "messages[1].content"],
      [{ prompt: 5 }, "prompt"],
    ];
    for (const [fields, field] of cases) {
      for (const modelId of ["chat", "tiny"]) {
        const request = { modelId, maxTokens: 2, ...fields } as never;
        await assert.rejects(pipeline.generate(request), (error: any) => {
          pipelineError("INVALID_REQUEST")(error);
          assert.deepEqual(error.details, { field }, JSON.stringify(fields).slice(0, 80));
          return true;
        });
      }
    }
    // At the limits, fine; fields other than role and content are ignored.
    const atLimits = Array.from({ length: 6 }, (_, i) => ({ role: "user", content: "x".repeat(i === 0 ? 195 : 1), name: "ignored" }));
    assert.equal((await pipeline.generate({ modelId: "chat", messages: atLimits, maxTokens: 1 })).usage.completionTokens, 1);
    assert.equal(pipeline.stats().generationsInFlight, 0);
  });
});

describe("ChatTemplate.load", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "modelnode-chat-template-"));
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const hi: ChatMessage[] = [{ role: "user", content: "hi" }];

  test("special tokens written as AddedToken objects are their content; absent ones are undefined", () => {
    const template = ChatTemplate.load("m", tempDir(), {
      chat_template: "{{ bos_token }}|{{ eos_token }}|{{ pad_token is defined }}|{{ messages[0].content }}",
      bos_token: { __type: "AddedToken", content: "<s>" },
      eos_token: "</s>",
    });
    assert.equal(template.own, true);
    assert.equal(template.render(hi), "<s>|</s>|false|hi");
  });

  test("a list of named templates uses \"default\"; chat_template.jinja is read when tokenizer_config.json has none", () => {
    const named = ChatTemplate.load("m", tempDir(), {
      chat_template: [
        { name: "tool_use", template: "tools" },
        { name: "default", template: "default:{{ messages | length }}" },
      ],
    });
    assert.equal(named.render(hi), "default:1");
    const dir = tempDir();
    writeFileSync(join(dir, "chat_template.jinja"), "file:{{ messages[0].role }}");
    const fromFile = ChatTemplate.load("m", dir, {});
    assert.equal(fromFile.own, true);
    assert.equal(fromFile.render(hi), "file:user");
    const none = ChatTemplate.load("m", tempDir(), {});
    assert.equal(none.own, false);
    assert.equal(none.render(hi), "user: hi\nassistant:");
  });

  test("a template that does not parse is a ModelLoadError naming its file, at load", async () => {
    const dir = tempDir();
    assert.throws(() => ChatTemplate.load("m", dir, { chat_template: "{% for x in %}" }), (error: unknown) => {
      assert.ok(error instanceof ModelLoadError);
      assert.equal(error.file, join(dir, "tokenizer_config.json"));
      assert.match(error.message, /chat template does not parse/);
      return true;
    });
    assert.throws(() => ChatTemplate.load("m", dir, { chat_template: [{ name: "other", template: "x" }] }), /no template named "default"/);
    assert.throws(() => ChatTemplate.load("m", dir, { chat_template: 7 }), /neither a string nor a list/);

    const { dir: model, cleanup } = copyTinyModel();
    try {
      editJson(join(model, "tokenizer_config.json"), (json) => (json.chat_template = "{% if %}"));
      await assert.rejects(createOnnxPipeline({ models: { broken: model } }), (error: unknown) => {
        assert.ok(error instanceof ModelLoadError);
        assert.equal(error.file, join(model, "tokenizer_config.json"));
        return true;
      });
    } finally {
      cleanup();
    }
  });

  test("the chat options are validated", async () => {
    await assert.rejects(createOnnxPipeline({ models: { tiny: TINY_MODEL_DIR }, maxChatMessages: 0 }), /`maxChatMessages` must be a positive integer/);
    await assert.rejects(createOnnxPipeline({ models: { tiny: TINY_MODEL_DIR }, maxChatChars: Number.NaN }), /`maxChatChars` must be a positive integer/);
    await assert.rejects(createOnnxPipeline({ models: { tiny: TINY_MODEL_DIR }, maxTools: 0 }), /`maxTools` must be a positive integer/);
  });
});
