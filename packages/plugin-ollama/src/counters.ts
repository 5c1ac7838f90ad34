/** What the plugin adds to getStats() under "ollama": core's generation figures, nothing more. */
import { GenerationCounters } from "@modelnode/core";

export class OllamaCounters extends GenerationCounters {}
