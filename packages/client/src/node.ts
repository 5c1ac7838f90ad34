// @modelnode/client/node: the same client for Node, with the `ws` package as its default
// WebSocket (Node 20 has no global one). Everything of the main entry is re-exported.
import WebSocket, { type ClientOptions as WsClientOptions } from "ws";
import { ModelNodeClient as BaseClient } from "./client.js";
import type { ClientOptions, WebSocketConstructor } from "./types.js";

export * from "./index.js";

export interface NodeClientOptions extends ClientOptions {
  /**
   * Options for `ws`'s constructor: TLS (`ca`, `rejectUnauthorized`), `headers` (an `Origin`
   * for a node with allowedOrigins), `maxPayload`, … Ignored when `WebSocket` is given.
   */
  wsOptions?: WsClientOptions;
}

/** `ws` with the given options (compression off: the node never negotiates it). */
export function wsWebSocket(wsOptions: WsClientOptions = {}): WebSocketConstructor {
  const options: WsClientOptions = { perMessageDeflate: false, ...wsOptions };
  class NodeWebSocket extends WebSocket {
    constructor(url: string) {
      super(url, options);
    }
  }
  return NodeWebSocket as unknown as WebSocketConstructor;
}

export class ModelNodeClient extends BaseClient {
  constructor(url: string | URL | readonly (string | URL)[], options: NodeClientOptions = {}) {
    const { wsOptions, ...rest } = options;
    super(url, { ...rest, WebSocket: rest.WebSocket ?? wsWebSocket(wsOptions) });
  }
}
