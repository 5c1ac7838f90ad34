/**
 * A generation in progress: an async iterable of its text pieces AND a thenable of its final
 * result, so both `for await (const piece of gen)` and `await gen` work (also together).
 */
import type { GenerationResult } from "./types.js";

/** How the client feeds a generation. */
export interface GenerationSink {
  piece(text: string): void;
  done(result: GenerationResult): void;
  fail(error: unknown): void;
  /** The text of the pieces received so far. */
  readonly text: string;
}

export interface GenerationControl {
  /** Ask the node to stop (inference_cancel); the generation ends with finishReason "cancelled". */
  cancel(): void;
}

const noop = () => {};

export class Generation implements AsyncIterable<string>, Promise<GenerationResult> {
  /** The request's message_id (what `inference_cancel` names). */
  readonly id: string;
  /** Settles with the final result; rejects with a ModelNodeError. */
  readonly result: Promise<GenerationResult>;
  readonly #pieces: string[] = [];
  #settled = false;
  #failed = false;
  #error: unknown;
  #wakers: (() => void)[] = [];
  readonly #control: GenerationControl;

  /** @internal The client makes generations; `start` wires the sink to the connection and returns the control. */
  constructor(id: string, start: (sink: GenerationSink) => GenerationControl) {
    this.id = id;
    let resolve!: (result: GenerationResult) => void;
    let reject!: (error: unknown) => void;
    this.result = new Promise<GenerationResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Marks the promise as handled: a caller who only iterates gets the error from the
    // iterator, and must not also get an unhandled rejection.
    this.result.catch(noop);
    const pieces = this.#pieces;
    const sink: GenerationSink = {
      piece: (text) => {
        if (this.#settled) return;
        pieces.push(text);
        this.#wake();
      },
      done: (result) => {
        if (this.#settled) return;
        this.#settled = true;
        resolve(result);
        this.#wake();
      },
      fail: (error) => {
        if (this.#settled) return;
        this.#settled = true;
        this.#failed = true;
        this.#error = error;
        reject(error);
        this.#wake();
      },
      get text() {
        return pieces.join("");
      },
    };
    this.#control = start(sink);
  }

  /** Whether the generation has ended (result settled). */
  get done(): boolean {
    return this.#settled;
  }

  /** The text received so far. */
  get text(): string {
    return this.#pieces.join("");
  }

  /** Same as aborting the `signal`: the node stops, and the result's finishReason is "cancelled". */
  cancel(): void {
    this.#control.cancel();
  }

  /** Makes a Generation a Promise to TypeScript too (Promise.all, assert.rejects, …). */
  get [Symbol.toStringTag](): string {
    return "Generation";
  }

  then<T1 = GenerationResult, T2 = never>(
    onfulfilled?: ((value: GenerationResult) => T1 | PromiseLike<T1>) | null,
    onrejected?: ((reason: any) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.result.then(onfulfilled, onrejected);
  }

  catch<T = never>(onrejected?: ((reason: any) => T | PromiseLike<T>) | null): Promise<GenerationResult | T> {
    return this.result.catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<GenerationResult> {
    return this.result.finally(onfinally);
  }

  /**
   * The pieces, from the first one (each iteration starts over), as they come. The loop ends
   * when the generation does; it throws the generation's error, if any. Leaving the loop early
   * (`break`, `return`, a throw in its body) cancels the generation.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    let next = 0;
    let finished = false;
    try {
      for (;;) {
        if (next < this.#pieces.length) {
          yield this.#pieces[next++];
          continue;
        }
        if (this.#settled) {
          finished = true;
          if (this.#failed) throw this.#error;
          return;
        }
        await new Promise<void>((wake) => this.#wakers.push(wake));
      }
    } finally {
      if (!finished && !this.#settled) this.cancel();
    }
  }

  #wake(): void {
    const wakers = this.#wakers;
    this.#wakers = [];
    for (const wake of wakers) wake();
  }
}
