/**
 * StreamResume: what a resumable generation has received so far (docs/client.md, "Several
 * nodes, and resuming"). Each inference_chunk of a request sent with `resumable: true` carries
 * the token ids generated since the previous chunk and the sampler's state; together with the
 * characters received they are the `resume` that continues the generation on another connection
 * (another node, or the same one back), which then sends only what follows.
 */
import type { TokenLogprobEntry } from "./types.js";

/** The request's `resume` field, as the protocol names it. */
export interface ResumeData {
  generated_ids: number[];
  delivered_chars: number;
  sampler_state?: string;
}

export class StreamResume {
  readonly #ids: number[] = [];
  #chars = 0;
  #samplerState: string | undefined;
  /** Every chunk so far carried its ids: without them the generation cannot be continued. */
  #complete = true;
  /** The log probabilities of every chunk (a resumed reply's final frame holds only its own part). */
  readonly logprobs: TokenLogprobEntry[] = [];
  /** How many times it was sent again with `resume`. */
  resumes = 0;

  /** Records a chunk. False when it cannot be trusted: a resumed request's chunk without resume data (a node that ignored `resume`, and so started over). */
  take(chunk: { text?: unknown; token_ids?: unknown; sampler_state?: unknown; logprobs?: unknown }): boolean {
    if (Array.isArray(chunk.token_ids)) this.#ids.push(...(chunk.token_ids as number[]));
    else {
      if (this.resumes > 0) return false;
      this.#complete = false;
    }
    this.#samplerState = typeof chunk.sampler_state === "string" ? chunk.sampler_state : undefined;
    if (typeof chunk.text === "string") this.#chars += chunk.text.length;
    if (Array.isArray(chunk.logprobs)) this.logprobs.push(...(chunk.logprobs as TokenLogprobEntry[]));
    return true;
  }

  /** Whether the chunks so far allow it to be continued. */
  get possible(): boolean {
    return this.#complete;
  }

  /** The `resume` that continues it past what was received. */
  data(): ResumeData {
    const data: ResumeData = { generated_ids: [...this.#ids], delivered_chars: this.#chars };
    if (this.#samplerState !== undefined) data.sampler_state = this.#samplerState;
    return data;
  }
}
