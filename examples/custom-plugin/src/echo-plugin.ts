/** A new message type as its own plugin: "echo" → "echo_response", with one option (maxChars). */
import { definePlugin, MessageHandler, parsePluginOptions, pluginManifest, reply, z, type HandlerContext, type InjectionToken } from "@modelnode/core";

export const echoOptionsSchema = z.strictObject({ maxChars: z.int().min(1).default(10_000) });
export type EchoOptions = z.input<typeof echoOptionsSchema>;
const ECHO_OPTIONS: InjectionToken<z.output<typeof echoOptionsSchema>> = Symbol("echo.options");

/** The schema reads this node's options, so each node enforces its own maxChars. */
export const echoSchema = ({ maxChars }: z.output<typeof echoOptionsSchema>) =>
  z.object({ text: z.string().max(maxChars), uppercase: z.boolean().default(false), stream: z.boolean().default(false) });

/** What it sends: echo_response, and with `stream` an echo_chunk per word before it (declared, so checked). */
export const echoResponseSchema = z.object({ text: z.string(), characters: z.int().min(0) });
export const echoChunkSchema = z.object({ index: z.int().min(0), text: z.string() });

@MessageHandler("echo", {
  schema: (resolve) => echoSchema(resolve(ECHO_OPTIONS)),
  replyType: "echo_response",
  replySchema: echoResponseSchema,
  replies: { echo_chunk: echoChunkSchema },
})
export class EchoHandler {
  /** The message type follows from the schema; the compiler checks this signature against it. */
  async *handle(msg: z.output<ReturnType<typeof echoSchema>>, ctx: HandlerContext) {
    const text = msg.uppercase ? msg.text.toUpperCase() : msg.text;
    if (msg.stream) {
      for (const [index, word] of text.split(/\s+/).filter(Boolean).entries()) {
        if (ctx.signal.aborted) return; // the client left or the node is closing
        yield reply("echo_chunk", { index, text: word });
      }
    }
    yield { text, characters: [...text].length };
  }
}

export const echoPlugin = (options: EchoOptions = {}) => {
  const resolved = parsePluginOptions("echoPlugin", echoOptionsSchema, options); // a bad option: a TypeError naming it
  return definePlugin({
    name: "echo",
    ...pluginManifest(import.meta.url),
    handlers: [EchoHandler],
    register: (container) => void container.register(ECHO_OPTIONS, { useValue: resolved }),
  });
};
