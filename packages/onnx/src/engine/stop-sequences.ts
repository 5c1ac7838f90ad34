/**
 * Stop sequences over streamed text. Generation stops when the text produced contains a stop
 * string (the stop string and anything after it are not returned). While streaming, text that
 * could still turn out to be the start of a stop string is held back until that is decided, so a
 * client never receives part of a stop sequence.
 */
export class StopSequenceMatcher {
  private text = "";
  private emitted = 0;
  private readonly longest: number;
  /** The stop string that ended the text (the earliest found), once one has. */
  matched: string | undefined;

  constructor(private readonly stops: readonly string[]) {
    this.longest = stops.reduce((max, s) => Math.max(max, s.length), 0);
  }

  /** Appends generated text; returns what can be emitted now and whether a stop string was hit. */
  push(piece: string): { emit: string; stopped: boolean } {
    if (this.stops.length === 0) {
      // Nothing to hold back: the piece goes out as is (no slicing, which would flatten the
      // growing text every token).
      this.text += piece;
      this.emitted = this.text.length;
      return { emit: piece, stopped: false };
    }
    const searchFrom = Math.max(0, this.text.length - this.longest + 1);
    this.text += piece;
    let cut = -1;
    for (const stop of this.stops) {
      const at = this.text.indexOf(stop, searchFrom);
      if (at >= 0 && (cut < 0 || at < cut)) {
        cut = at;
        this.matched = stop;
      }
    }
    if (cut >= 0) {
      this.text = this.text.slice(0, cut);
      return { emit: this.take(cut), stopped: true };
    }
    return { emit: this.take(this.text.length - this.heldBack()), stopped: false };
  }

  /** Everything not yet emitted (at the end of generation, when no stop string can complete). */
  finish(): string {
    return this.take(this.text.length);
  }

  /** The text produced so far (without any stop string). */
  get fullText(): string {
    return this.text;
  }

  /** Length of the longest suffix of the text that is a proper prefix of some stop string. */
  private heldBack(): number {
    let held = 0;
    for (const stop of this.stops) {
      for (let k = Math.min(stop.length - 1, this.text.length); k > held; k--) {
        if (this.text.endsWith(stop.slice(0, k))) {
          held = k;
          break;
        }
      }
    }
    return held;
  }

  private take(end: number): string {
    if (end <= this.emitted) return "";
    const piece = this.text.slice(this.emitted, end);
    this.emitted = end;
    return piece;
  }
}
