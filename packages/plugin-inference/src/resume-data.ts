/**
 * Resume data of a streamed inference_request (docs/protocol.md, "Resuming a stream"): with
 * `resumable: true` each inference_chunk carries the token ids generated since the previous
 * chunk, the characters delivered so far and the sampler's state, which is all a client needs to
 * continue the generation elsewhere (`resume`) should this node or its connection go.
 */
import { errors, type GenerationEvent, type ResumeFrom } from "@modelnode/core";
import type { InferenceChunk, InferenceRequest } from "./schema.js";

/** The request's `resume` in the pipeline's names. */
export function resumeFrom(resume: NonNullable<InferenceRequest["resume"]>): ResumeFrom {
  const from: ResumeFrom = { generatedIds: resume.generated_ids, deliveredChars: resume.delivered_chars };
  if (resume.sampler_state !== undefined) from.samplerState = resume.sampler_state;
  return from;
}

type TextEvent = Extract<GenerationEvent, { kind: "text" }>;

/** Follows a stream's text events and stamps each chunk with what was generated and delivered up to it. */
export class ChunkResume {
  /** Ids generated since the last chunk (events with no text of their own included). */
  #ids: number[] = [];
  /** Every event so far said its ids: without them the stream cannot be resumed. */
  #known = true;
  #samplerState: string | undefined;
  #delivered: number;
  #first = true;

  /** `from`: the request's resume (its characters are delivered already); `stamp`: whether chunks carry the data (resumable: true). */
  constructor(
    private readonly from: ResumeFrom | undefined,
    private readonly stampChunks: boolean,
  ) {
    this.#delivered = from?.deliveredChars ?? 0;
  }

  /** Records a pipeline text event (before its chunk, if any, goes out). */
  take(event: TextEvent): void {
    if (this.#first) {
      this.#first = false;
      // A pipeline that does not say token ids cannot follow `resume` either: it would start over
      // and repeat what the client has.
      if (this.from && this.from.generatedIds.length > 0 && event.tokenIds === undefined) {
        throw errors.invalidRequest("This node's pipeline cannot resume a generation (it does not report token ids).", "resume");
      }
    }
    if (event.tokenIds === undefined) this.#known = false;
    else this.#ids.push(...event.tokenIds);
    this.#samplerState = event.samplerState;
  }

  /** Adds the resume data to a chunk carrying the text of the events taken since the last one. */
  stamp(chunk: InferenceChunk): void {
    this.#delivered += chunk.text.length;
    if (!this.stampChunks || !this.#known) return;
    chunk.token_ids = this.#ids;
    chunk.delivered_chars = this.#delivered;
    if (this.#samplerState !== undefined) chunk.sampler_state = this.#samplerState;
    this.#ids = [];
  }
}
