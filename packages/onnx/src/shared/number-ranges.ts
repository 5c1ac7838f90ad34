/**
 * EBNF for JSON numbers within bounds. xgrammar's web build (0.1.27) writes unsound grammars for
 * `minimum` / `maximum` (a schema's integer in [0, 120] may come out 121; a number in [0, 1] may
 * come out 1.44), so schemas with bounds are lowered (json-schema-lowering.ts) to these rules,
 * which never allow a value outside the bounds: integers in canonical form (no leading zeros, no
 * "-0", no exponent); numbers as those integers or with a fraction of 1 to 6 digits whose last is
 * not 0, whose whole open interval (k, k + 1) lies within the bounds. Values with an exponent, and
 * fractions between a fractional bound and the next whole number, are not produced: sound, a
 * little narrower than the schema.
 */

/** Decimal digits as EBNF: [0-9]{n} (nothing for 0). */
const digits = (n: number) => (n === 0 ? "" : n === 1 ? "[0-9]" : `[0-9]{${n}}`);

/** Strings of equal length from `low` to `high` (digit strings, low <= high), as EBNF alternatives. */
function sameLength(low: string, high: string): string[] {
  if (low === high) return [JSON.stringify(low)];
  if (low.length === 1) return [low === high ? `"${low}"` : `[${low}-${high}]`];
  const [a, b] = [Number(low[0]), Number(high[0])];
  const rest = low.length - 1;
  if (a === b) return sameLength(low.slice(1), high.slice(1)).map((tail) => `"${a}" (${tail})`);
  const out: string[] = [];
  const lowTail = low.slice(1);
  const highTail = high.slice(1);
  // a followed by lowTail..99…9; the digits strictly between; b followed by 00…0..highTail.
  if (/^0*$/.test(lowTail)) out.push(`"${a}" ${digits(rest)}`);
  else out.push(...sameLength(lowTail, "9".repeat(rest)).map((tail) => `"${a}" (${tail})`));
  if (b - a > 1) out.push(`[${a + 1}-${b - 1}] ${digits(rest)}`);
  if (/^9*$/.test(highTail)) out.push(`"${b}" ${digits(rest)}`);
  else out.push(...sameLength("0".repeat(rest), highTail).map((tail) => `"${b}" (${tail})`));
  return out;
}

/** Canonical decimal text of the whole numbers from `low` to `high` (0 <= low; high may be Infinity). */
export function naturalRange(low: number, high: number): string[] {
  if (high < low) return [];
  const out: string[] = [];
  const lowText = String(low);
  const highLength = Number.isFinite(high) ? String(high).length : Infinity;
  for (let length = lowText.length; length <= highLength; length++) {
    if (!Number.isFinite(highLength) && length > lowText.length) {
      // Every longer number: a first digit 1-9, then at least `length - 1` digits.
      out.push(`[1-9] ${digits(length - 1)} [0-9]*`);
      break;
    }
    const first = length === lowText.length ? lowText : `1${"0".repeat(length - 1)}`;
    const last = length === highLength ? String(high) : "9".repeat(length);
    out.push(...sameLength(first, last));
  }
  return out;
}

/** Integers from `min` to `max` (either may be infinite), as one EBNF expression; undefined when none. */
export function integerRange(min: number, max: number): string | undefined {
  const parts: string[] = [];
  if (min < 0) {
    const negatives = naturalRange(Math.max(1, -max), -min);
    if (negatives.length > 0) parts.push(`"-" (${negatives.join(" | ")})`);
  }
  if (max >= 0) parts.push(...naturalRange(Math.max(0, min), max));
  return parts.length === 0 ? undefined : `(${parts.join(" | ")})`;
}

export interface NumberBounds {
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

/** Fractions of 1 to 6 digits, the last not 0: "k.5", never "k.50" nor "k.0". */
const FRACTION = `"." [0-9]{0,5} [1-9]`;

/**
 * An integer (`integer`) or a number within the bounds, as one EBNF expression; undefined when
 * no value fits (an empty range). Bounds past 2^53 are the caller's to refuse.
 */
export function boundedNumber(bounds: NumberBounds, integer: boolean): string | undefined {
  const { minimum = -Infinity, maximum = Infinity, exclusiveMinimum = -Infinity, exclusiveMaximum = Infinity } = bounds;
  const low = Math.max(minimum, exclusiveMinimum);
  const high = Math.min(maximum, exclusiveMaximum);
  // Whole numbers allowed: within [low, high], an exclusive bound left out.
  let first = Math.ceil(low);
  if (exclusiveMinimum >= minimum && first === exclusiveMinimum) first++;
  let last = Math.floor(high);
  if (exclusiveMaximum <= maximum && last === exclusiveMaximum) last--;
  const parts: string[] = [];
  const whole = integerRange(first, last);
  if (whole) parts.push(whole);
  if (!integer) {
    // k.f lies in (k, k + 1) for k >= 0, and -k.f in (-k - 1, -k): the whole interval must be inside.
    const lowest = Math.ceil(low);
    const highest = Math.floor(high);
    const positive = naturalRange(Math.max(0, lowest), highest - 1);
    if (positive.length > 0) parts.push(`(${positive.join(" | ")}) ${FRACTION}`);
    const negative = naturalRange(Math.max(0, -highest), -lowest - 1);
    if (negative.length > 0) parts.push(`"-" (${negative.join(" | ")}) ${FRACTION}`);
  }
  return parts.length === 0 ? undefined : `(${parts.join(" | ")})`;
}
