// @modelnode/plugin-legacy: the field's legacy JSON format (session_id / step / input_tensors),
// executed as steps of the model pipeline bound to PIPELINE. See docs/plugin-legacy.md.
export { legacyPlugin } from "./plugin.js";
export {
  LEGACY_DEFAULTS,
  legacyOptionsSchema,
  resolveLegacyOptions,
  type LegacyPluginOptions,
  type ResolvedLegacyOptions,
  type SessionScope,
} from "./options.js";
export { legacyMessageSchema, legacyStepReplySchema, type LegacyMessage, type LegacyStepReply } from "./schema.js";
export { LegacyStepHandler } from "./handler.js";
