/**
 * What a handler declares about the replies it sends, and the return type of `handle` that
 * follows from it. A handler that declares nothing may return any HandlerResult (as before);
 * one that declares `replySchema` and/or `replies` is held to them by the compiler: its plain
 * replies must be what `replySchema` accepts (`z.input`), and its `reply(type, payload)` values
 * must name a type listed in `replies` with a payload that schema accepts. The compiler checks
 * types and missing fields, not extra ones (a method's inferred return is not an object
 * literal); @modelnode/testing's replyChecker checks what is really sent, extra fields included.
 */
import type { z, ZodType } from "zod";
import type { HandlerResult, Reply } from "./reply.js";

/** Reply types a handler sends besides its default one (e.g. streamed chunks), each with the zod schema of its payload. */
export type ReplySchemas = Record<string, ZodType>;

/** The plain (default-type) reply a handler may produce: `z.input` of its replySchema, any object without one. */
type PlainReply<R> = [R] extends [ZodType] ? z.input<R> : object;

/** `reply(type, payload)` values for each declared type (none when nothing is declared in `replies`). */
type TypedReplies<X> = [X] extends [ReplySchemas] ? { [K in keyof X & string]: Reply<Extract<z.input<X[K]>, object>, K> }[keyof X & string] : never;

type Results<I> = void | undefined | I | AsyncIterable<I> | Promise<void | undefined | I | AsyncIterable<I>>;

/** What `handle` may return given its declarations: any HandlerResult when it declares none. */
export type DeclaredResult<R extends ZodType | undefined, X extends ReplySchemas | undefined> = [R, X] extends [undefined, undefined]
  ? HandlerResult
  : Results<PlainReply<R> | TypedReplies<X>>;
