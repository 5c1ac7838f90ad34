// @modelnode/plugin-playground: a page on the node's own port to try its models from a browser
// (pick a model, stream a prompt or a chat, stop it, see time to first token and tokens/s). It
// speaks the node's WebSocket protocol through @modelnode/client's browser build, which it serves
// too: nothing is fetched from elsewhere. See docs/playground.md.
export { playgroundPlugin, playgroundRoutes, defaultsDocument, PLAYGROUND_VERSION } from "./plugin.js";
export {
  ASSET_PREFIX,
  playgroundInferenceSchema,
  playgroundOptionsSchema,
  resolvePlaygroundOptions,
  type PlaygroundInference,
  type PlaygroundOptions,
  type ResolvedPlaygroundOptions,
} from "./options.js";
