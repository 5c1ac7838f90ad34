/** `inferencePlugin(options)`: inference_request (whole or streamed), inference_cancel and list_models. */
import { definePlugin, PIPELINE, pluginManifest, type Plugin } from "@modelnode/core";
import { InferenceCancelHandler } from "./cancel-handler.js";
import { InferenceCounters } from "./counters.js";
import { InferenceRequestHandler } from "./inference-handler.js";
import { ListModelsHandler } from "./list-models-handler.js";
import { INFERENCE_COUNTERS, INFERENCE_OPTIONS, resolveInferenceOptions, type InferencePluginOptions } from "./options.js";

export function inferencePlugin(options: InferencePluginOptions = {}): Plugin {
  const resolved = resolveInferenceOptions(options);
  return definePlugin({
    name: "inference",
    ...pluginManifest(import.meta.url),
    requires: [PIPELINE],
    handlers: [InferenceRequestHandler, InferenceCancelHandler, ListModelsHandler],
    register(container, host) {
      const counters = new InferenceCounters();
      container.register(INFERENCE_OPTIONS, { useValue: resolved });
      container.register(INFERENCE_COUNTERS, { useValue: counters });
      host.addStatsSource("inference", () => counters.snapshot());
    },
  });
}
