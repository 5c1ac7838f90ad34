/**
 * Your plugins, added to the example node (`npm start`, and createModelNode unless its caller
 * passes `plugins`). This is the one file to edit: add an entry below, then set its options in
 * the config file under `"plugins": { "<name>": { ... } }` (or MODELNODE_PLUGINS='{"<name>":{...}}').
 * See docs/extending.md for a walk-through.
 *
 * An entry is `{ name, options, create }`: the plugin's name (also its key under "plugins"), the
 * zod schema of its options, and a function making the plugin from the validated options.
 *
 * Example, with the plugin in src/count-tokens.ts (or a workspace package you depend on):
 *
 *   import { pluginEntry } from "./plugin-entry.js";
 *   import { countTokensPlugin, countTokensOptionsSchema } from "./count-tokens.js";
 *
 *   export const extraPlugins: ExtraPlugin[] = [
 *     pluginEntry({ name: "count_tokens", options: countTokensOptionsSchema, create: countTokensPlugin }),
 *   ];
 */
import type { ExtraPlugin } from "./plugin-entry.js";

export const extraPlugins: ExtraPlugin[] = [];
