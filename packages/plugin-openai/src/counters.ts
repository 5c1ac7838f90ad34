/** What the plugin adds to getStats() under "openai": core's generation figures, nothing more. */
import { GenerationCounters } from "@modelnode/core";

export class OpenAICounters extends GenerationCounters {}
