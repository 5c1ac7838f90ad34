/**
 * `playgroundPlugin(options)`: a page on the node's port to try its models from a browser. The
 * page, its files and the client's browser build are plain GET routes (`guarded: false`: they load
 * without authentication and are not counted as requests); everything else the page does goes
 * over the node's WebSocket protocol, where authentication applies as for any client.
 */
import { defineRoute, definePlugin, pluginManifest, type HttpRequest, type HttpResponse, type Plugin, type RouteDefinition } from "@modelnode/core";
import { ASSET_PREFIX, resolvePlaygroundOptions, type PlaygroundOptions, type ResolvedPlaygroundOptions } from "./options.js";
import { asset, CONTENT_TYPES, loadAssets, type Asset } from "./assets.js";

/** This package's version and core range, from its package.json. */
const MANIFEST = pluginManifest(import.meta.url);
export const PLAYGROUND_VERSION = MANIFEST.version;

/** Files are not content-hashed: the browser revalidates each time (a 304 when unchanged). */
const REVALIDATE = "no-cache";
const COMMON_HEADERS = { "x-content-type-options": "nosniff" };

export function playgroundPlugin(options: PlaygroundOptions = {}): Plugin {
  const resolved = resolvePlaygroundOptions(options);
  return definePlugin({
    name: "playground",
    ...MANIFEST,
    routes: resolved.enabled ? playgroundRoutes(resolved) : [],
  });
}

/** The page's routes (read from disk once, here). */
export function playgroundRoutes(options: ResolvedPlaygroundOptions): RouteDefinition[] {
  const assets = loadAssets();
  const defaults = asset(JSON.stringify(defaultsDocument(options)), CONTENT_TYPES.json);
  const pageHeaders = {
    ...COMMON_HEADERS,
    "content-security-policy": [
      "default-src 'none'",
      `script-src 'self' 'sha256-${assets.importMapHash}'`,
      "style-src 'self'",
      "img-src 'self' data:",
      // 'self' covers ws: and wss: to the page's own host and port (CSP level 3).
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
  };
  const clientDepths = new Set([...assets.client.keys()].map((key) => key.split("/").length));
  return [
    defineRoute({
      method: "GET",
      path: options.path,
      name: "playground_page",
      guarded: false,
      handle: (req) => send(req, assets.page, REVALIDATE, pageHeaders),
    }),
    defineRoute({
      method: "GET",
      path: `${ASSET_PREFIX}:file`,
      name: "playground_file",
      guarded: false,
      handle(req) {
        const name = req.params.file;
        if (name === "defaults.json") return send(req, defaults, "no-store");
        const file = assets.own.get(name);
        return file ? send(req, file, REVALIDATE) : notFound();
      },
    }),
    // One route per folder depth the client's build has (usually one: its modules side by side).
    ...[...clientDepths].sort().map((depth) => {
      const segments = Array.from({ length: depth }, (_, i) => `:p${i}`);
      return defineRoute({
        method: "GET",
        path: `${ASSET_PREFIX}client/${segments.join("/")}`,
        name: "playground_client",
        guarded: false,
        handle(req) {
          const key = segments.map((segment) => req.params[segment.slice(1)]).join("/");
          const file = assets.client.get(key);
          return file ? send(req, file, REVALIDATE) : notFound();
        },
      });
    }),
  ];
}

/** GET /playground/defaults.json: what the page shows as the node's defaults and limits (wire names). */
export function defaultsDocument({ inference }: ResolvedPlaygroundOptions) {
  const defaults = inference?.defaults ?? {};
  return {
    defaults: {
      max_tokens: defaults.maxTokens ?? null,
      temperature: defaults.temperature ?? null,
      top_p: defaults.topP ?? null,
      top_k: defaults.topK ?? null,
    },
    limits: {
      max_tokens: inference?.maxTokensLimit ?? null,
      max_prompt_chars: inference?.maxPromptChars ?? null,
      max_stop_sequences: inference?.maxStopSequences ?? null,
      max_stop_chars: inference?.maxStopChars ?? null,
      max_chat_messages: inference?.maxChatMessages ?? null,
      max_chat_chars: inference?.maxChatChars ?? null,
    },
  };
}

function send(req: HttpRequest, file: Asset, cacheControl: string, extra: Record<string, string> = COMMON_HEADERS): HttpResponse {
  const headers = { ...extra, "cache-control": cacheControl, etag: file.etag };
  const known = req.headers["if-none-match"];
  if (typeof known === "string" && known.split(",").some((tag) => tag.trim().replace(/^W\//, "") === file.etag)) {
    return { status: 304, headers, text: "", contentType: file.contentType };
  }
  return { headers, text: file.body, contentType: file.contentType };
}

function notFound(): HttpResponse {
  return { status: 404, headers: { ...COMMON_HEADERS, "cache-control": "no-store" }, text: "Not found.\n", contentType: "text/plain; charset=utf-8" };
}
