/**
 * A reply whose message_type differs from the handler's default (e.g. `inference_chunk`
 * frames in a stream). A plain object returned or yielded by a handler uses the default.
 */
const REPLY = Symbol.for("modelnode.reply");

export class Reply<P extends object = Record<string, unknown>, T extends string = string> {
  /** Marks replies across copies of core, so that `isReply` knows one made by another copy. */
  readonly [REPLY] = true;

  constructor(
    readonly type: T,
    readonly payload: P,
  ) {}
}

/** `type` is kept as a literal type, so that a handler declaring `replies` is checked against it. */
export function reply<P extends object, T extends string = string>(type: T, payload: P): Reply<P, T> {
  return new Reply(type, payload);
}

/** What `handle()` may return: nothing, one reply, or (streaming) an async iterable of replies. */
export type HandlerResult =
  | void
  | undefined
  | object
  | Reply
  | AsyncIterable<object | Reply>
  | Promise<void | undefined | object | Reply | AsyncIterable<object | Reply>>;

/** True for a Reply from this or any other copy of core. */
export function isReply(value: unknown): value is Reply {
  if (value instanceof Reply) return true;
  if (typeof value !== "object" || value === null) return false;
  // A plain object (what most handlers return) is no Reply of any copy: no symbol lookup for it,
  // which is a slow, megamorphic one on every reply otherwise.
  const proto: unknown = Object.getPrototypeOf(value);
  return proto !== Object.prototype && proto !== null && (value as { [REPLY]?: unknown })[REPLY] === true;
}
