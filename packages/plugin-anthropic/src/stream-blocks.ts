/**
 * A streamed message's content blocks, as Anthropic streams them: each block opens
 * (content_block_start), grows (content_block_delta: text_delta for text, one input_json_delta
 * with the whole input for a tool_use block, whose input is known whole when the call is read)
 * and closes (content_block_stop), indexed in order. Without tools the text block opens at once,
 * before the first text (index 0, then a ping); with tools a block opens only when its first
 * text or its call comes, so a reply that only calls starts with its tool_use block.
 */
import type { GenerationResult, ToolCall } from "@modelnode/core";
import { startEvent, stopOf, toolUseBlock, usageOf, type AnthropicStreamEvent } from "./shapes.js";

export class StreamBlocks {
  private next = 0;
  /** The index of the text block open now, if one is. */
  private openText: number | undefined;
  private calls = 0;

  constructor(private readonly eager: boolean) {}

  /** message_start, the text block's start when eager, a ping. */
  opening(id: string, model: string, inputTokens: number): AnthropicStreamEvent[] {
    return [startEvent(id, model, inputTokens), ...(this.eager ? this.startText() : []), { type: "ping" }];
  }

  text(text: string): AnthropicStreamEvent[] {
    if (text.length === 0) return [];
    const start = this.openText === undefined ? this.startText() : [];
    return [...start, { type: "content_block_delta", index: this.openText!, delta: { type: "text_delta", text } }];
  }

  call(call: ToolCall): AnthropicStreamEvent[] {
    const block = toolUseBlock(call);
    const index = this.next++;
    this.calls++;
    return [
      ...this.closeText(),
      { type: "content_block_start", index, content_block: { ...block, input: {} } },
      { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) } },
      { type: "content_block_stop", index },
    ];
  }

  /** The open block's end (an empty text block when there was none at all), the stop reason with the usage, the message's end. */
  closing(result: GenerationResult): AnthropicStreamEvent[] {
    const empty = this.next === 0 ? this.startText() : [];
    return [...empty, ...this.closeText(), { type: "message_delta", delta: stopOf(result, this.calls), usage: usageOf(result) }, { type: "message_stop" }];
  }

  private startText(): AnthropicStreamEvent[] {
    this.openText = this.next++;
    return [{ type: "content_block_start", index: this.openText, content_block: { type: "text", text: "" } }];
  }

  private closeText(): AnthropicStreamEvent[] {
    if (this.openText === undefined) return [];
    const index = this.openText;
    this.openText = undefined;
    return [{ type: "content_block_stop", index }];
  }
}
