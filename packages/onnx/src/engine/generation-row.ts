/**
 * One generation's own state inside a batch: its sampler (temperature, top-k, top-p, seed), its
 * stop strings, its text stream and its counts. The scheduler hands it the logits of its row after
 * every run; the row picks the next token, emits the text that became final and says whether it
 * is done. Ends on EOS or a stop string ("stop"), on max tokens or a full context ("length"), or
 * when cancelled. A row with a grammar (structured output) samples only among the tokens its
 * grammar allows next (grammar-constraint.ts), and sits out runs while it waits for that mask.
 */
import type { FinishReason, GenerationResult, ResumeFrom, TokenLogprob } from "@modelnode/core/pipeline";
import type { SamplerSettings } from "../messages/sampling.js";
import { parseSamplerState } from "../shared/sampler-state.js";
import { createTextStream } from "../shared/text-stream.js";
import type { TokenTextStream } from "../shared/token-text-stream.js";
import type { GrammarConstraint } from "./grammar-constraint.js";
import type { LoadedModel } from "./loaded-model.js";
import type { PromptLookup } from "./prompt-lookup.js";
import { logitProcessors } from "./logit-processors.js";
import { Sampler } from "./sampler.js";
import { StopSequenceMatcher } from "./stop-sequences.js";
import { describeLogprobs } from "./token-logprobs.js";

export interface GenerationSettings {
  promptIds: number[];
  maxTokens: number;
  stop: string[];
  sampling: SamplerSettings;
  /** Continue a generation started elsewhere: its generated ids are fed after the prompt (see GenerateRequest.resume). */
  resume?: ResumeFrom;
}

export interface RowSink {
  /**
   * `tokenIds`: the ids generated since the previous text event; `logprobs`, when asked for, one
   * per id; `samplerState`: the sampler's state right after the last id reported so far (absent
   * when greedy: that sampler draws nothing).
   */
  text(text: string, tokenIds: number[], logprobs?: TokenLogprob[], samplerState?: number): void;
  /** Once per generated token (EOS excluded), for stats. */
  token(): void;
  done(result: GenerationResult): void;
  /** It cannot go on (its grammar left no token to pick): reported as an error, not a result. */
  failed(error: Error): void;
}

export class GenerationRow {
  /** The token to feed next (the last one sampled). */
  nextInput = -1;
  completionTokens = 0;
  cancelled = false;
  /** Held while its reader is behind: it keeps its place (and cache) in the batch but does not advance. */
  paused = false;
  private finished = false;
  /** When it was created (queued) and admitted to a batch: its queue time goes in the result. */
  private readonly createdAt = performance.now();
  private admittedAt: number | undefined;
  private readonly sampler: Sampler;
  private readonly decoder: TokenTextStream;
  private readonly matcher: StopSequenceMatcher;
  /** Ids generated since the last text event, and their log probabilities when asked for. */
  private pendingIds: number[] = [];
  private pendingLogprobs: TokenLogprob[] | undefined;
  /** The sampler's state after the last id of `pendingIds` (after an EOS, say, the sampler is further on). */
  private reportedState: number;
  /** Characters of replayed text the client already has (a resumed generation). */
  private skipChars = 0;
  /** What the model is fed first: the prompt's ids, then a resumed generation's earlier ids. */
  readonly inputIds: number[];
  /** Its whole sequence: `inputIds`, then every token it generated (what its cache holds, the last sampled one aside). */
  readonly sequence: number[];
  /** Tokens of `inputIds` that came from the prefix cache instead of being prefilled. */
  cachedTokens = 0;
  /** Its grammar (GenerateRequest.grammar), if any. */
  constraint: GrammarConstraint | undefined;
  /** Its guesses for speculative decoding (speculative-decode.ts), when it speculates. */
  speculation: PromptLookup | undefined;

  constructor(
    readonly requestId: number,
    readonly model: LoadedModel,
    readonly settings: GenerationSettings,
    private readonly sink: RowSink,
  ) {
    // Penalties and bias, in the documented order (logit-processors.ts); a grammar mask goes last.
    this.sampler = new Sampler(
      settings.sampling,
      logitProcessors(settings.sampling, settings.promptIds, settings.resume?.generatedIds),
      parseSamplerState(settings.resume?.samplerState), // checked on the main thread
    );
    this.reportedState = this.sampler.state;
    if (settings.sampling.logprobs !== undefined) this.pendingLogprobs = [];
    this.decoder = createTextStream(model.tokenizer, settings.promptIds);
    this.matcher = new StopSequenceMatcher(settings.stop);
    const generated = settings.resume?.generatedIds ?? [];
    this.inputIds = generated.length > 0 ? [...settings.promptIds, ...generated] : settings.promptIds;
    this.sequence = [...this.inputIds];
  }

  /**
   * A resumed generation: passes its earlier ids through the decoder and the stop-string matcher
   * as if it had generated them, emitting only the text past the first `deliveredChars`
   * characters (text the other pipeline held back is emitted now). True when the generation is
   * over already (a stop string, maxTokens or the context reached).
   */
  replay(): boolean {
    const resume = this.settings.resume;
    if (!resume || resume.generatedIds.length === 0) return false;
    this.skipChars = resume.deliveredChars;
    for (const id of resume.generatedIds) {
      this.completionTokens++;
      const { emit, stopped } = this.matcher.push(this.decoder.push(id));
      this.emitText(emit);
      if (stopped) return this.finish("stop", true);
    }
    if (this.completionTokens >= this.settings.maxTokens || this.length >= this.model.contextLength) return this.finish("length");
    this.nextInput = resume.generatedIds[resume.generatedIds.length - 1];
    return false;
  }

  /** Sends text (less what the client has already) with the ids generated since the last text event. */
  private emitText(text: string): void {
    if (this.skipChars > 0 && text.length > 0) {
      const skipped = Math.min(this.skipChars, text.length);
      this.skipChars -= skipped;
      text = text.slice(skipped);
    }
    if (!text) return;
    const ids = this.pendingIds;
    this.pendingIds = [];
    const logprobs = this.pendingLogprobs;
    if (logprobs) this.pendingLogprobs = [];
    this.sink.text(text, ids, logprobs, this.settings.sampling.temperature > 0 ? this.reportedState : undefined);
  }

  get done(): boolean {
    return this.finished;
  }

  /** Tokens the row's cache will hold once `nextInput` is fed. */
  get length(): number {
    return this.settings.promptIds.length + this.completionTokens;
  }

  /** Tokens it may still add to its cache (what is left of its reservation). */
  get remainingTokens(): number {
    return this.finished ? 0 : Math.max(0, Math.min(this.settings.maxTokens - this.completionTokens, this.model.contextLength - this.length));
  }

  /** Waits for its grammar's mask (holding its logits): it sits out decode runs until `retry` samples. */
  get waiting(): boolean {
    return this.constraint?.held !== undefined;
  }

  /** Held or paused: a decode run feeds it nothing. */
  get idle(): boolean {
    return this.paused || this.waiting;
  }

  /** A waiting row samples from its held logits once its mask is here; true when the generation is over. */
  retry(): boolean {
    const constraint = this.constraint!;
    const held = constraint.held!;
    if (!constraint.ready) return false;
    constraint.held = undefined;
    return this.accept(held);
  }

  /** Samples from the logits after the row's last token; true when the generation is over. */
  accept(logits: Float32Array): boolean {
    const constraint = this.constraint;
    if (constraint) {
      if (!constraint.ready) {
        constraint.held = logits.slice(); // a run's logits are views, valid until the next run
        return false;
      }
      // Complete, where the model has no end-of-sequence token to say so.
      if (constraint.mask === null) return this.finish("stop");
      constraint.apply(logits);
    }
    const id = this.sampler.next(logits);
    if (constraint && !constraint.allows(id)) {
      this.fail();
      this.sink.failed(new Error(`the grammar allows no token this model can produce (sampled ${id})`));
      return true;
    }
    if (this.model.eosTokenIds.has(id)) return this.finish("stop");
    this.completionTokens++;
    this.sequence.push(id);
    this.sink.token();
    this.pendingIds.push(id);
    this.reportedState = this.sampler.state;
    if (this.pendingLogprobs) this.pendingLogprobs.push(describeLogprobs(this.model.tokenizer, id, this.sampler.lastLogprobs!, this.settings.sampling.logprobs! > 0));
    const { emit, stopped } = this.matcher.push(this.decoder.push(id));
    this.emitText(emit);
    if (stopped) return this.finish("stop", true);
    // prompt + completion may fill the context; the last sampled token is never fed back.
    if (this.completionTokens >= this.settings.maxTokens || this.length >= this.model.contextLength) return this.finish("length");
    constraint?.advance(id);
    this.speculation?.push(id);
    this.nextInput = id;
    return false;
  }

  /** Its tokens; `cachedTokens` only when the prefix cache served some (a resumed generation's earlier tokens are its completion's, not its prompt's). */
  private usage(): GenerationResult["usage"] {
    const usage = { promptTokens: this.settings.promptIds.length, completionTokens: this.completionTokens };
    const cachedTokens = Math.min(this.cachedTokens, usage.promptTokens);
    return cachedTokens > 0 ? { ...usage, cachedTokens } : usage;
  }

  /** Ends it without a result (the caller reports an error instead). */
  fail(): void {
    this.finished = true;
    this.constraint?.close();
  }

  /** The engine admitted it to a batch. */
  admitted(): void {
    this.admittedAt ??= performance.now();
  }

  /** Ends the generation (once): releases held-back text and reports the result. */
  finish(reason: FinishReason, hitStopString = false): true {
    if (this.finished) return true;
    this.finished = true;
    this.constraint?.close();
    let finishReason = reason;
    if (!hitStopString) {
      // Characters still held back by the decoder (an incomplete UTF-8 sequence) come out now, and
      // text held back as a possible stop-string start is released; the former may still
      // complete a stop string.
      const tail = this.matcher.push(this.decoder.flush());
      let rest = tail.emit;
      if (tail.stopped) finishReason = "stop";
      else rest += this.matcher.finish();
      this.emitText(rest);
    }
    this.sink.done({
      text: this.matcher.fullText,
      finishReason,
      ...(this.matcher.matched !== undefined ? { stopSequence: this.matcher.matched } : {}),
      usage: this.usage(),
      // Never admitted (cancelled or refused while waiting): all of its time was queue time.
      timings: { queuedMs: Math.round(((this.admittedAt ?? performance.now()) - this.createdAt) * 1000) / 1000 },
    });
    return true;
  }
}
