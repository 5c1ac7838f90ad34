/** What the plugin adds to getStats() under "anthropic": core's generation figures, nothing more. */
import { GenerationCounters } from "@modelnode/core";

export class AnthropicCounters extends GenerationCounters {}
