/** `inferencePlugin(options)`: inference_request (whole or streamed) and list_models. */
import { definePlugin, type Plugin } from "@modelnode/core";
import { InferenceCounters } from "./counters.js";
import { createInferenceHandler } from "./inference-handler.js";
import { ListModelsHandler } from "./list-models-handler.js";
import { INFERENCE_COUNTERS, INFERENCE_OPTIONS, resolveInferenceOptions, type InferencePluginOptions } from "./options.js";
import { inferenceRequestSchema } from "./schema.js";

export function inferencePlugin(options: InferencePluginOptions = {}): Plugin {
  const resolved = resolveInferenceOptions(options);
  const handler = createInferenceHandler(inferenceRequestSchema(resolved));
  return definePlugin({
    name: "inference",
    handlers: [handler, ListModelsHandler],
    register(container, host) {
      const counters = new InferenceCounters();
      container.register(INFERENCE_OPTIONS, { useValue: resolved });
      container.register(INFERENCE_COUNTERS, { useValue: counters });
      host.addStatsSource("inference", () => counters.snapshot());
    },
  });
}
