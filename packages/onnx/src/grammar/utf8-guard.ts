/**
 * Keeps a constrained generation's bytes valid UTF-8. xgrammar 0.1.27 matches character classes
 * byte by byte above ASCII (a negated class lets any byte ≥ 0x80 through: "clamping to 127"), so
 * under a grammar a model could write a stray continuation byte inside a string, which decodes to
 * U+FFFD and breaks a maxLength or a pattern. Here each token's bytes are run through a UTF-8
 * decoder from each of its 8 states once per model; a generation's mask is then ANDed with the
 * mask of the tokens that continue its bytes validly, and its state follows the tokens it takes.
 * End-of-sequence tokens (ASCII text) are so allowed only between characters.
 */

/** Decoder states: 0 between characters; the others wait for continuation bytes (RFC 3629's table). */
const STATES = 8;
const INVALID = 255;

function step(state: number, byte: number): number {
  switch (state) {
    case 0:
      if (byte < 0x80) return 0;
      if (byte >= 0xc2 && byte <= 0xdf) return 1;
      if (byte === 0xe0) return 4;
      if (byte === 0xed) return 5;
      if (byte >= 0xe1 && byte <= 0xef) return 2;
      if (byte === 0xf0) return 6;
      if (byte >= 0xf1 && byte <= 0xf3) return 3;
      if (byte === 0xf4) return 7;
      return INVALID;
    case 1: // one continuation byte to go
      return byte >= 0x80 && byte <= 0xbf ? 0 : INVALID;
    case 2: // two
      return byte >= 0x80 && byte <= 0xbf ? 1 : INVALID;
    case 3: // three
      return byte >= 0x80 && byte <= 0xbf ? 2 : INVALID;
    case 4: // after E0: A0-BF (no overlong forms)
      return byte >= 0xa0 && byte <= 0xbf ? 1 : INVALID;
    case 5: // after ED: 80-9F (no surrogates)
      return byte >= 0x80 && byte <= 0x9f ? 1 : INVALID;
    case 6: // after F0: 90-BF
      return byte >= 0x90 && byte <= 0xbf ? 2 : INVALID;
    case 7: // after F4: 80-8F (nothing past U+10FFFF)
      return byte >= 0x80 && byte <= 0x8f ? 2 : INVALID;
    default:
      return INVALID;
  }
}

export class Utf8Guard {
  private constructor(
    /** Per state: bit set when the token's bytes continue validly from it. */
    private readonly masks: Int32Array[],
    /** Per state × token: the state after the token (INVALID when it is not allowed). */
    private readonly next: Uint8Array[],
  ) {}

  /** `bytesOf(id)`: token `id`'s bytes (an empty token changes nothing). */
  static build(vocabSize: number, bytesOf: (id: number) => Uint8Array): Utf8Guard {
    const words = Math.ceil(vocabSize / 32);
    const masks = Array.from({ length: STATES }, () => new Int32Array(words));
    const next = Array.from({ length: STATES }, () => new Uint8Array(vocabSize).fill(INVALID));
    for (let id = 0; id < vocabSize; id++) {
      const bytes = bytesOf(id);
      for (let start = 0; start < STATES; start++) {
        let state = start;
        for (let i = 0; i < bytes.length && state !== INVALID; i++) state = step(state, bytes[i]);
        if (state === INVALID) continue;
        next[start][id] = state;
        masks[start][id >> 5] |= 1 << (id & 31);
      }
    }
    return new Utf8Guard(masks, next);
  }

  /** Takes out of `mask` the tokens that would break UTF-8 from `state`. */
  restrict(mask: Int32Array, state: number): void {
    const allowed = this.masks[state];
    const words = Math.min(mask.length, allowed.length);
    for (let word = 0; word < words; word++) mask[word] &= allowed[word];
  }

  /** The state after `token` (0 for a token outside the table: an id past the vocabulary is never allowed anyway). */
  after(state: number, token: number): number {
    const value = this.next[state]?.[token];
    return value === undefined || value === INVALID ? 0 : value;
  }
}
