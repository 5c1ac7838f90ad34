#!/usr/bin/env node
/**
 * `model-node`: runs the example node (see README.md). Configuration problems are reported as
 * "config error: <field>: <what was expected>" before anything listens, with exit code 2.
 * SIGTERM/SIGINT close the node gracefully and exit 0 (a second signal exits at once with 130). Errors that escape everything else:
 * see process-handlers.ts (an unhandled rejection is logged and the node keeps serving; an
 * uncaught exception is logged, the node closes gracefully, exit code 1).
 */
import { closeOnSignals } from "@modelnode/core/server";
import { ConfigError } from "./config-error.js";
import { extraPlugins } from "./extra-plugins.js";
import { loadConfig, USAGE } from "./load-config.js";
import { createModelNode } from "./model-node.js";
import { installProcessHandlers } from "./process-handlers.js";

async function main(): Promise<number | undefined> {
  let loaded;
  try {
    // extra-plugins.ts's plugins: their options are validated with the rest of the config.
    loaded = loadConfig({ argv: process.argv.slice(2), plugins: extraPlugins });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  if (loaded === "help") {
    console.log(USAGE);
    return 0;
  }
  const { config } = loaded;
  let node;
  try {
    node = await createModelNode(config, { plugins: extraPlugins });
  } catch (error) {
    console.error(`startup error: ${(error as Error).message}`);
    return error instanceof ConfigError ? 2 : 1;
  }
  installProcessHandlers(node);
  let address;
  try {
    address = await node.listen(config.port, config.host);
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    const where = `${config.host ?? "all interfaces"} port ${config.port}`;
    console.error(err.code === "EADDRINUSE" ? `startup error: ${where} is already in use` : `startup error: ${err.message}`);
    await node.close();
    return 1;
  }
  const shownHost = address.host === "::" || address.host === "0.0.0.0" ? "localhost" : address.host;
  // One line for people (and scripts) waiting for the node; logs go to stdout as JSON.
  console.error(
    `model node ${node.nodeId} listening on ${config.tls ? "wss" : "ws"}://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${address.port}` +
      ` (models: ${Object.keys(config.models).join(", ")}; auth ${config.auth.required ? "required" : "off"}` +
      `${extraPlugins.length > 0 ? `; extra plugins: ${extraPlugins.map((p) => p.name).join(", ")}` : ""})`,
  );

  closeOnSignals(node, {
    onSignal: (signal, again) =>
      console.error(again ? `${signal} again: exiting without waiting` : `${signal}: closing (in-flight requests get up to ${config.shutdownTimeoutMs} ms)`),
    onCloseError: (error) => console.error(`error while closing: ${(error as Error).message}`),
  });
  return undefined;
}

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
