/**
 * Chats → prompt text: a `GenerateRequest`'s `messages` rendered with the model's own chat
 * template, through `@huggingface/jinja` (the Jinja implementation transformers.js uses), with the
 * variables transformers.js's `apply_chat_template` passes: `messages`,
 * `add_generation_prompt: true`, `tools` (a request's tools, for a template that knows tools;
 * else null, and the tools go into a preamble: tool-grammar.ts), `documents` (null), and the tokenizer's special
 * tokens (`bos_token`, `eos_token`, `unk_token`, `sep_token`, `pad_token`, `cls_token`,
 * `mask_token`) from tokenizer_config.json.
 *
 * The template comes from tokenizer_config.json's `chat_template` (a string, or a list of named
 * templates, of which "default" is used), else from a `chat_template.jinja` file beside it (the
 * layout newer exports use). A model with neither gets `FALLBACK_CHAT_TEMPLATE`.
 *
 * Checking the messages (`checkChat`) is cheap and happens on the caller's thread; rendering and
 * tokenizing happen on the tokenizer thread, next to the prompt's other tokenizing. The engine
 * thread compiles the template too, at load, so that one that does not parse fails the load.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { errors, type ChatMessage, type ToolCall, type ToolCallFormat, type ToolSpec } from "@modelnode/core/pipeline";
import { clip } from "./clip.js";
import { ModelLoadError } from "./model-files.js";
import { withToolPreamble } from "./tool-grammar.js";

/**
 * The template for models without one: "role: content" lines, then "assistant:" for the reply.
 *
 * A model without a chat template is nearly always a base model trained on no chat format at
 * all. ChatML's `<|im_start|>` / `<|im_end|>` would be, for such a vocabulary, a run of
 * punctuation tokens that mean nothing to it; a plain transcript looks like text it has seen
 * (scripts, forum threads) and costs a few tokens per turn. The prompt ends without a space:
 * byte-level BPE vocabularies (GPT-2's) put the space at the start of the next word's token.
 * Clients that want the model to stop at the end of its turn send a stop string such as "\nuser:".
 * An assistant message follows "assistant:" as it is (an answer the model generated there, sent
 * back as the chat goes on, renders as it was generated, so the next turn's prompt starts with
 * the very tokens the prefix cache kept: docs/engine.md); other messages get a space after the
 * colon unless they start with one.
 */
export const FALLBACK_CHAT_TEMPLATE =
  "{% for message in messages %}{{ message.role }}:{% if message.role != 'assistant' and message.content[:1] != ' ' %} {% endif %}{{ message.content }}\n{% endfor %}" +
  "{% if add_generation_prompt %}assistant:{% endif %}";

/** Longest role accepted, in characters ("system", "user", "assistant", "tool" …). */
export const MAX_ROLE_CHARS = 64;

/** The special-token variables transformers.js passes to a chat template, when the tokenizer has them. */
const SPECIAL_TOKEN_NAMES = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] as const;

export interface ChatLimits {
  maxChatMessages: number;
  maxChatChars: number;
}

export class ChatTemplate {
  private constructor(
    private readonly modelId: string,
    private readonly template: Template,
    /** Whether the template is the model's own (false: FALLBACK_CHAT_TEMPLATE). */
    readonly own: boolean,
    private readonly specialTokens: Readonly<Record<string, string>>,
    /** How the model writes tool calls (see `toolSupport`). */
    readonly toolFormat: ToolCallFormat,
    /** Whether the template renders `tools` itself (false: `withToolPreamble`). */
    readonly knowsTools: boolean,
  ) {}

  /**
   * The model's template (or the fallback), compiled once. A template that does not parse is a
   * `ModelLoadError` naming the file it came from: better at startup than on every chat.
   */
  static load(modelId: string, dir: string, tokenizerConfig: Record<string, any>): ChatTemplate {
    const source = templateSource(modelId, dir, tokenizerConfig);
    const specialTokens = specialTokensOf(tokenizerConfig);
    const { format, knowsTools } = toolSupport(source?.text);
    if (!source) return new ChatTemplate(modelId, new Template(FALLBACK_CHAT_TEMPLATE), false, specialTokens, format, knowsTools);
    try {
      return new ChatTemplate(modelId, new Template(source.text), true, specialTokens, format, knowsTools);
    } catch (error) {
      throw new ModelLoadError(modelId, source.file, `its chat template does not parse (${firstLine(error)})`);
    }
  }

  /**
   * The chat as prompt text, with the assistant's turn opened. A template that raises (e.g.
   * "Conversation roles must alternate user/assistant/…") or fails on the messages is
   * INVALID_REQUEST, with its message.
   */
  render(messages: readonly ChatMessage[], tools?: readonly ToolSpec[]): string {
    let text: unknown;
    const own = this.knowsTools;
    try {
      text = this.template.render({
        messages: own ? messages.map(withParsedArguments) : withToolPreamble(messages, tools),
        add_generation_prompt: true,
        tools: own && tools && tools.length > 0 ? tools : null,
        documents: null,
        ...this.specialTokens,
      });
    } catch (error) {
      const reason = clip(firstLine(error).trim() || "it failed", 200);
      throw errors.invalidRequest(
        `The messages cannot be rendered with the chat template of model "${clip(this.modelId)}": ${reason}${/[.!?]$/.test(reason) ? "" : "."}`,
        "messages",
      );
    }
    if (typeof text !== "string") throw errors.invalidRequest(`The chat template of model "${clip(this.modelId)}" did not render text.`, "messages");
    return text;
  }
}

/**
 * Checks a request's `messages` (an array of 1 to `maxChatMessages` `{ role, content }` objects,
 * roles of 1 to MAX_ROLE_CHARS characters, contents of at most `maxChatChars` characters in all)
 * and returns plain copies of them (only `role` and `content`), fit to cross to the engine thread.
 */
export function checkChat(messages: unknown, limits: ChatLimits): ChatMessage[] {
  const invalid = errors.invalidRequest;
  if (!Array.isArray(messages) || messages.length === 0 || messages.length > limits.maxChatMessages) {
    throw invalid(`The messages must be an array of 1 to ${limits.maxChatMessages} chat messages.`, "messages");
  }
  let chars = 0;
  const copies: ChatMessage[] = [];
  for (let i = 0; i < messages.length; i++) {
    const message: unknown = messages[i];
    if (typeof message !== "object" || message === null) throw invalid(`Message ${i} must be an object with a role and a content.`, `messages[${i}]`);
    const { role, content } = message as Record<string, unknown>;
    if (typeof role !== "string" || role.length === 0 || role.length > MAX_ROLE_CHARS) {
      throw invalid(`The role of message ${i} must be a string of 1 to ${MAX_ROLE_CHARS} characters.`, `messages[${i}].role`);
    }
    if (typeof content !== "string") throw invalid(`The content of message ${i} must be a string.`, `messages[${i}].content`);
    const { tool_calls: calls, tool_call_id: callId } = message as Record<string, unknown>;
    const copy: ChatMessage = { role, content };
    if (calls !== undefined) copy.tool_calls = checkCalls(calls, i);
    if (callId !== undefined) {
      if (typeof callId !== "string" || callId.length > MAX_ROLE_CHARS) throw invalid(`The tool_call_id of message ${i} must be a string of at most ${MAX_ROLE_CHARS} characters.`, `messages[${i}].tool_call_id`);
      copy.tool_call_id = callId;
    }
    chars += content.length + (copy.tool_calls ?? []).reduce((sum, call) => sum + call.function.name.length + call.function.arguments.length, 0);
    if (chars > limits.maxChatChars) {
      throw invalid(`The messages' contents hold more than ${limits.maxChatChars} characters in all.`, "messages");
    }
    copies.push(copy);
  }
  return copies;
}

/** An assistant turn's calls: a list of `{id, type: "function", function: {name, arguments}}`, copied. */
function checkCalls(calls: unknown, i: number): ToolCall[] {
  const at = `messages[${i}].tool_calls`;
  if (!Array.isArray(calls)) throw errors.invalidRequest(`The tool_calls of message ${i} must be a list.`, at);
  return calls.map((call: unknown, j): ToolCall => {
    const { id, function: fn } = (call ?? {}) as { id?: unknown; function?: { name?: unknown; arguments?: unknown } };
    if (typeof id !== "string" || id.length > MAX_ROLE_CHARS || typeof fn?.name !== "string" || fn.name.length > MAX_ROLE_CHARS || typeof fn.arguments !== "string") {
      throw errors.invalidRequest(`Call ${j} of message ${i} must be {"id", "type": "function", "function": {"name", "arguments"}} (strings).`, `${at}[${j}]`);
    }
    return { id, type: "function", function: { name: fn.name, arguments: fn.arguments } };
  });
}

/**
 * How a template's model writes tool calls: a template that renders `tools` and writes
 * `<tool_call>` is Hermes-style (Qwen 2.5/3, Hermes); one that renders `tools` and asks for
 * `"parameters"` (or knows `<|python_tag|>`) is Llama 3.x JSON. Any other template (or none)
 * gets the fallback: a preamble asking for Hermes calls (`withToolPreamble`).
 */
export function toolSupport(source: string | undefined): { format: ToolCallFormat; knowsTools: boolean } {
  if (source === undefined || !/\btools\b/.test(source)) return { format: "hermes", knowsTools: false };
  if (source.includes("<tool_call>")) return { format: "hermes", knowsTools: true };
  if (source.includes('"parameters"') || source.includes("<|python_tag|>")) return { format: "llama3_json", knowsTools: true };
  return { format: "hermes", knowsTools: false };
}

/** transformers' convention: templates see a call's `arguments` as an object (JSON text that does not parse stays text). */
function withParsedArguments(message: ChatMessage): ChatMessage | Record<string, unknown> {
  if (!message.tool_calls) return message;
  return {
    ...message,
    tool_calls: message.tool_calls.map((call) => {
      let args: unknown = call.function.arguments;
      try {
        args = JSON.parse(call.function.arguments);
      } catch {
        // kept as written
      }
      return { ...call, function: { name: call.function.name, arguments: args } };
    }),
  };
}

function templateSource(modelId: string, dir: string, tokenizerConfig: Record<string, any>): { text: string; file: string } | undefined {
  const configFile = join(dir, "tokenizer_config.json");
  const configured: unknown = tokenizerConfig.chat_template;
  if (typeof configured === "string") return { text: configured, file: configFile };
  if (Array.isArray(configured)) {
    // transformers' named templates: [{ name: "default", template }, { name: "tool_use", … }, …]
    const named = configured.find((entry) => entry?.name === "default");
    if (typeof named?.template !== "string") {
      throw new ModelLoadError(modelId, configFile, 'its chat_template list has no template named "default"');
    }
    return { text: named.template, file: configFile };
  }
  if (configured !== undefined && configured !== null) {
    throw new ModelLoadError(modelId, configFile, "its chat_template is neither a string nor a list of named templates");
  }
  const jinjaFile = join(dir, "chat_template.jinja");
  if (existsSync(jinjaFile)) return { text: readFileSync(jinjaFile, "utf8"), file: jinjaFile };
  return undefined;
}

/** `bos_token` etc. as strings: tokenizer_config.json holds either the text or an AddedToken object `{ content }`. */
function specialTokensOf(tokenizerConfig: Record<string, any>): Record<string, string> {
  const tokens: Record<string, string> = {};
  for (const name of SPECIAL_TOKEN_NAMES) {
    const value: unknown = tokenizerConfig[name];
    const text = typeof value === "string" ? value : typeof (value as { content?: unknown })?.content === "string" ? (value as { content: string }).content : undefined;
    if (text) tokens[name] = text;
  }
  return tokens;
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0];
}
