/**
 * playgroundPlugin() options: one zod schema holds their defaults and checks, so that an
 * application can compose them into its own config schema (`playgroundOptionsSchema.shape`).
 */
import { parsePluginOptions, z } from "@modelnode/core";

/** Where the page's own files and the client's browser build are served (fixed: the page links to them). */
export const ASSET_PREFIX = "/playground/";

const PATH = "expected an absolute URL path such as \"/\" or \"/try\" (letters, digits, . _ ~ - and /), not under /playground/";
const pagePath = z
  .string({ error: PATH })
  .max(256, { error: PATH })
  .regex(/^\/(?:[A-Za-z0-9._~-]+\/?)*$/, { error: PATH })
  .refine((path) => !path.split("/").some((segment) => segment === "." || segment === ".."), { error: PATH })
  .refine((path) => !path.startsWith(ASSET_PREFIX), { error: PATH });

const whole = (min: number) => {
  const error = `expected an integer ≥ ${min}`;
  return z.int({ error }).min(min, { error });
};

const TEMPERATURE = "expected a number from 0 to 2";
const TOP_P = "expected a number in (0, 1]";

/**
 * What the page shows as the node's sampling defaults and limits (the inference plugin's resolved
 * options, e.g. `resolveInferenceOptions(...)` of what it was given). Shown only: the page sends a
 * field only when the user fills it in, so the node's own defaults always apply otherwise.
 */
export const playgroundInferenceSchema = z.object({
  defaults: z
    .object({
      maxTokens: whole(1).optional(),
      temperature: z.number({ error: TEMPERATURE }).min(0, { error: TEMPERATURE }).max(2, { error: TEMPERATURE }).optional(),
      topP: z.number({ error: TOP_P }).gt(0, { error: TOP_P }).max(1, { error: TOP_P }).optional(),
      topK: whole(0).optional(),
    })
    .optional(),
  maxTokensLimit: whole(1).optional(),
  maxPromptChars: whole(1).optional(),
  maxStopSequences: whole(0).optional(),
  maxStopChars: whole(1).optional(),
  maxChatMessages: whole(1).optional(),
  maxChatChars: whole(1).optional(),
});

export const playgroundOptionsSchema = z.strictObject({
  /** Serve the page and its files. false: the plugin adds no route. Default true. */
  enabled: z.boolean({ error: "expected true or false" }).default(true),
  /** Where the page is served (GET). Its files are always under /playground/. Default "/". */
  path: pagePath.default("/"),
  /** The node's sampling defaults and limits, shown in the page (placeholders and bounds). Default: none shown. */
  inference: playgroundInferenceSchema.optional(),
});

export type PlaygroundOptions = z.input<typeof playgroundOptionsSchema>;
export type ResolvedPlaygroundOptions = z.output<typeof playgroundOptionsSchema>;
export type PlaygroundInference = z.input<typeof playgroundInferenceSchema>;

/** Validates `options`; every problem goes into one TypeError naming the option. */
export function resolvePlaygroundOptions(options: PlaygroundOptions = {}): ResolvedPlaygroundOptions {
  return parsePluginOptions("playgroundPlugin", playgroundOptionsSchema, options);
}
