/**
 * A byte-level BPE vocabulary (GPT-2, Llama 3, Qwen, …) packed for decoding: each token stands
 * for fixed bytes, so the whole vocabulary is one byte buffer and an offset per token. This is
 * what the engine thread decodes with: two typed arrays live outside V8's heap, where the
 * tokenizer library's maps of 50 000+ strings would make every garbage collection walk them (see
 * TextTokenizer.decodeOnly).
 */

/** GPT-2's reversible byte ↔ printable-character table (bytes_to_unicode), inverted. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Map<string, number>();
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const code = printable.includes(b) ? b : 256 + shifted++;
    table.set(String.fromCharCode(code), b);
  }
  return table;
})();

/** The bytes a byte-level token string stands for (a character outside the table counts as byte 0, as the tokenizers library does). */
export function byteLevelBytes(token: string): Uint8Array {
  return Uint8Array.from(token, (char) => CHAR_TO_BYTE.get(char) ?? 0);
}

export class ByteVocabulary {
  private constructor(
    private readonly bytes: Uint8Array,
    /** Token id → start of its bytes; id + 1 → their end. */
    private readonly offsets: Uint32Array,
  ) {}

  /** From tokenizer.json's `model.vocab` (token string → id). */
  static fromVocab(vocab: Readonly<Record<string, number>>): ByteVocabulary {
    const entries = Object.entries(vocab).filter(([, id]) => Number.isInteger(id) && id >= 0);
    const size = entries.reduce((max, [, id]) => Math.max(max, id + 1), 0);
    const perId: (Uint8Array | undefined)[] = new Array(size);
    let total = 0;
    for (const [token, id] of entries) {
      const bytes = byteLevelBytes(token);
      perId[id] = bytes;
      total += bytes.length;
    }
    const packed = new Uint8Array(total);
    const offsets = new Uint32Array(size + 1);
    let at = 0;
    for (let id = 0; id < size; id++) {
      offsets[id] = at;
      const bytes = perId[id];
      if (bytes) packed.set(bytes, at);
      at += bytes?.length ?? 0;
    }
    offsets[size] = at;
    return new ByteVocabulary(packed, offsets);
  }

  /** Token `id`'s bytes (a view; empty for an id outside the vocabulary). */
  tokenBytes(id: number): Uint8Array {
    if (!(id >= 0 && id < this.offsets.length - 1)) return EMPTY;
    return this.bytes.subarray(this.offsets[id], this.offsets[id + 1]);
  }
}

const EMPTY = new Uint8Array(0);
