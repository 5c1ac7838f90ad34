/**
 * A new message type as its own plugin: "echo" → "echo_response". Handler, schema and plugin
 * factory live in this one file; nothing here touches a socket or the model pipeline.
 */
import { definePlugin, MessageHandler, reply, z, type HandlerContext } from "@modelnode/core";

export const echoSchema = z.object({
  text: z.string().max(10_000),
  uppercase: z.boolean().default(false),
  /** When true, each word first comes back as an `echo_chunk` frame, then the final reply. */
  stream: z.boolean().default(false),
});
export type EchoRequest = z.infer<typeof echoSchema>;

@MessageHandler("echo", { schema: echoSchema, replyType: "echo_response" })
export class EchoHandler {
  async *handle(msg: EchoRequest, ctx: HandlerContext) {
    const text = msg.uppercase ? msg.text.toUpperCase() : msg.text;
    if (msg.stream) {
      const words = text.split(/\s+/).filter(Boolean);
      for (const [index, word] of words.entries()) {
        if (ctx.signal.aborted) return; // the client left or the node is closing
        yield reply("echo_chunk", { index, text: word });
      }
    }
    yield { text, characters: [...text].length };
  }
}

/** The plugin: a factory, so that options can be added later without breaking callers. */
export const echoPlugin = () => definePlugin({ name: "echo", handlers: [EchoHandler] });
