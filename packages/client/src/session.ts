/** A legacy step session: sends `{session_id, step, input_tensors}` and keeps the step count. */
import type { CallOptions, LegacyInput, LegacyOutput } from "./types.js";

export interface StepOptions extends CallOptions {
  /** `input_tensors.attention_mask` (0/1, as long as the ids); ignored by the node for text. */
  attentionMask?: (0 | 1)[];
}

/** What a session needs from its client. */
export interface LegacyTransport {
  legacyStep(message: Record<string, unknown>, options: CallOptions): Promise<LegacyOutput>;
}

export class LegacySession {
  /** The session_id. */
  readonly id: string;
  /** The model_id sent with every step (absent: the node's legacy model). */
  readonly model: string | undefined;
  #next = 0;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #transport: LegacyTransport;

  /** @internal Made by `client.session()`. */
  constructor(transport: LegacyTransport, id: string, model: string | undefined) {
    this.#transport = transport;
    this.id = id;
    this.model = model;
  }

  /** The step number the next step() sends: 0 at first and after reset(), then one more after each successful step. */
  get nextStep(): number {
    return this.#next;
  }

  /**
   * Runs one step: text or token ids at step 0 (the prompt), the new token id(s) after that —
   * usually `[previous.next_token_id]`. Steps of a session run one after the other (a second
   * call waits for the first to settle). A failed step does not advance the count (nor does it
   * on the node).
   */
  step(input: LegacyInput, options: StepOptions = {}): Promise<LegacyOutput> {
    const run = async () => {
      const step = this.#next;
      const inputTensors: Record<string, unknown> = { input_ids: input };
      if (options.attentionMask !== undefined) inputTensors.attention_mask = options.attentionMask;
      const message: Record<string, unknown> = { session_id: this.id, step, input_tensors: inputTensors };
      if (this.model !== undefined) message.model_id = this.model;
      const output = await this.#transport.legacyStep(message, { timeoutMs: options.timeoutMs, signal: options.signal });
      this.#next = step + 1;
      return output;
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => {});
    return result;
  }

  /** The next step() starts the session over at step 0 (the node frees the old one then). */
  reset(): void {
    this.#next = 0;
  }
}
