/**
 * A generation's prompt or chat → token ids, on the tokenizer thread. Bad input is a coded error
 * (core's `errors.*`) a client can act on.
 */
import { errors, type ChatMessage, type ToolSpec } from "@modelnode/core/pipeline";
import type { GenerationInput } from "../messages/tokenizer-protocol.js";
import type { ChatTemplate } from "../shared/chat-template.js";
import { promptTokenIds, type TextTokenizer } from "../shared/text-tokenizer.js";

/** What encoding a request needs of a model (the tokenizer thread holds one per model). */
export interface PromptEncoder {
  id: string;
  tokenizer: TextTokenizer;
  chatTemplate: ChatTemplate;
  bosTokenId?: number;
}

/** Token ids of what a generation continues: its prompt, or its chat rendered with the model's template. */
export function inputIds(model: PromptEncoder, input: GenerationInput): number[] {
  return "messages" in input ? chatIds(model, input.messages, input.tools) : promptIds(model, input.prompt);
}

/** Token ids for a prompt (as `tokenize` reports them); an empty prompt becomes the model's BOS token when it has one. */
export function promptIds(model: PromptEncoder, prompt: string): number[] {
  if (typeof prompt !== "string") throw errors.invalidRequest("The prompt must be a string.", "prompt");
  const ids = promptTokenIds(model.tokenizer, prompt, model.bosTokenId);
  if (ids.length > 0) return ids;
  throw errors.invalidRequest(`The prompt is empty, and model "${model.id}" has no beginning-of-sequence token to start from.`, "prompt");
}

/**
 * Token ids for a chat: its messages rendered with the model's chat template. The model's own
 * template's text is encoded as transformers.js's `apply_chat_template` encodes it, without the
 * special tokens the tokenizer adds to a prompt: such templates write their BOS themselves
 * (`{{ bos_token }}`), so the tokenizer's would be a second one. The fallback template writes
 * none, so its text is encoded as a prompt is (BOS included where the tokenizer adds one).
 */
export function chatIds(model: PromptEncoder, messages: readonly ChatMessage[], tools?: readonly ToolSpec[]): number[] {
  const text = model.chatTemplate.render(messages, tools);
  const ids = model.chatTemplate.own ? model.tokenizer.encode(text, false) : promptTokenIds(model.tokenizer, text, model.bosTokenId);
  if (ids.length > 0) return ids;
  if (model.bosTokenId !== undefined) return [model.bosTokenId];
  throw errors.invalidRequest(`The chat template of model "${model.id}" rendered the messages as no text at all.`, "messages");
}
