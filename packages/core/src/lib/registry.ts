/**
 * Builds the message_type → handler map at startup (the legacy format in its own slot) and
 * refuses ambiguous or incomplete handlers, naming the plugin and the handler.
 */
import type { DependencyContainer, InjectionToken } from "tsyringe";
import type { ZodType } from "zod";
import { loadedCoreCopies, CORE_COPY_ID } from "./core-identity.js";
import {
  definitionCore,
  getHandlerMetadata,
  isHandlerDefinition,
  keyLabel,
  LEGACY_FORMAT,
  type HandlerEntry,
  type HandlerKey,
  type MessageHandlerInstance,
  type SchemaSource,
} from "./decorators.js";
import { describeToken } from "./services.js";
import type { Endpoint } from "./lifecycle.js";

/** A handler as the request lifecycle runs it (an Endpoint: messages are always guarded). */
export interface RegisteredHandler extends Endpoint {
  /** The message_type, or "legacy" for the legacy-format handler. */
  type: string;
  replyType: string;
  schema: ZodType;
  /** The declared payload schema of its `replyType` replies (MessageHandlerOptions.replySchema), if any. */
  replySchema: ZodType | undefined;
  /** The other reply types it declared, with their payload schemas ({} when none). */
  replies: Readonly<Record<string, ZodType>>;
  /** The class name, or the definition's name. */
  className: string;
  plugin: string;
  /** Answered even at the connection's in-flight cap (see MessageHandlerOptions.control). */
  control: boolean;
  readonly guarded: true;
  instance: MessageHandlerInstance;
}

/** A composition mistake found at startup: names the plugin and what is wrong. */
export class RegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegistryError";
  }
}

interface Pending {
  key: HandlerKey;
  entry: HandlerEntry;
  name: string;
  plugin: string;
  schema: SchemaSource;
  replyType: string | undefined;
  replySchema: unknown;
  replies: unknown;
  control: boolean;
}

export class HandlerRegistry {
  private constructor(
    private readonly handlers: Map<string, RegisteredHandler>,
    /** The legacy-format handler, if a plugin registered one. */
    readonly legacy: RegisteredHandler | undefined,
  ) {}

  /** Resolves each handler through the container (one instance per node) and indexes it by type. */
  static build(entries: Iterable<{ plugin: string; entry: HandlerEntry }>, container: DependencyContainer): HandlerRegistry {
    const byKey = new Map<HandlerKey, Pending>();
    for (const { plugin, entry } of entries) {
      const pending = describe(plugin, entry);
      const existing = byKey.get(pending.key);
      if (existing) {
        throw new RegistryError(
          `two handlers for ${pending.key === LEGACY_FORMAT ? "the legacy format" : `message type "${keyLabel(pending.key)}"`}: ` +
            `${existing.name} (plugin "${existing.plugin}") and ${pending.name} (plugin "${plugin}")`,
        );
      }
      byKey.set(pending.key, pending);
    }
    const handlers = new Map<string, RegisteredHandler>();
    let legacy: RegisteredHandler | undefined;
    const resolve = <T>(token: InjectionToken<T>): T => container.resolve(token);
    for (const pending of byKey.values()) {
      const where = `${pending.name} (plugin "${pending.plugin}")`;
      const schema = typeof pending.schema === "function" ? guarded(where, "its schema function failed", () => (pending.schema as (r: typeof resolve) => ZodType)(resolve)) : pending.schema;
      if (!isZodSchema(schema)) throw new RegistryError(`${where} has no zod schema: pass { schema } (a zod schema or a function returning one)`);
      const type = keyLabel(pending.key);
      const replyType = pending.replyType ?? `${type}_response`;
      const { replySchema, replies } = replyDeclarations(where, replyType, pending);
      const instance = guarded(where, "could not be built", () => instantiate(pending.entry, container));
      const handler: RegisteredHandler = {
        type,
        replyType,
        schema,
        replySchema,
        replies,
        className: pending.name,
        plugin: pending.plugin,
        control: pending.control,
        guarded: true,
        instance,
        invoke: (message, ctx) => instance.handle(message, ctx),
      };
      if (pending.key === LEGACY_FORMAT) legacy = handler;
      else handlers.set(type, handler);
    }
    return new HandlerRegistry(handlers, legacy);
  }

  /** The handler of a standard message_type. */
  get(type: string): RegisteredHandler | undefined {
    return this.handlers.get(type);
  }

  /** Standard message types served (the legacy format is not one). */
  types(): string[] {
    return [...this.handlers.keys()];
  }
}

function describe(plugin: string, entry: HandlerEntry): Pending {
  if (isHandlerDefinition(entry)) {
    if (definitionCore(entry) !== CORE_COPY_ID) throw anotherCopy(`handler "${keyLabel(entry.type)}"`, plugin, "made");
    if (typeof entry.handle !== "function") throw new RegistryError(`plugin "${plugin}": handler "${keyLabel(entry.type)}" has no handle function`);
    return { key: entry.type, entry, name: entry.name ?? `handler "${keyLabel(entry.type)}"`, plugin, schema: entry.schema, replyType: entry.replyType, replySchema: entry.replySchema, replies: entry.replies, control: entry.control === true };
  }
  if (typeof entry !== "function") {
    throw new RegistryError(`plugin "${plugin}" lists a handler that is neither a class nor a defineHandler(...) value`);
  }
  const meta = getHandlerMetadata(entry);
  if (!meta) {
    throw new RegistryError(`${entry.name} (plugin "${plugin}") is listed as a handler but has no @MessageHandler(...) decorator`);
  }
  if (meta.core !== CORE_COPY_ID) throw anotherCopy(entry.name, plugin, "decorated");
  return { key: meta.type, entry, name: entry.name, plugin, schema: meta.schema, replyType: meta.replyType, replySchema: meta.replySchema, replies: meta.replies, control: meta.control === true };
}

function anotherCopy(name: string, plugin: string, how: "made" | "decorated"): RegistryError {
  const copies = loadedCoreCopies().map((c) => `${c.version} at ${c.location}`);
  return new RegistryError(
    `${name} (plugin "${plugin}") was ${how} by another copy of @modelnode/core than the one composing the node; ` +
      `two copies are loaded (${copies.join("; ")}). A plugin must list @modelnode/core under peerDependencies so that ` +
      `it shares the application's copy.`,
  );
}

function instantiate(entry: HandlerEntry, container: DependencyContainer): MessageHandlerInstance {
  if (!isHandlerDefinition(entry)) return container.resolve(entry as unknown as new () => MessageHandlerInstance);
  const deps: Record<string, unknown> = {};
  for (const [name, token] of Object.entries(entry.inject ?? {})) {
    if (!container.isRegistered(token as InjectionToken<unknown>, true)) {
      throw new Error(`it injects ${describeToken(token as InjectionToken<unknown>)} as "${name}", which no plugin provides`);
    }
    deps[name] = container.resolve(token as InjectionToken<unknown>);
  }
  const handle = entry.handle;
  return { handle: (message, ctx) => handle(message, ctx, deps) };
}

function guarded<T>(where: string, what: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof RegistryError) throw error;
    throw new RegistryError(`${where} ${what}: ${missingService(error) ?? (error as Error).message}`);
  }
}

/** tsyringe's `Cannot inject the dependency "x" at position #0 …` in the plugin author's terms. */
function missingService(error: unknown): string | undefined {
  const text = (error as Error)?.message ?? "";
  const match = /Cannot inject the dependency "?([^"]*?)"? at position #(\d+)[^]*?Attempted to resolve unregistered dependency token: "?([^"\n]+?)"?(?:\n|$)/.exec(text);
  if (!match) return undefined;
  return `constructor parameter #${match[2]} needs ${match[3]}, which no plugin provides`;
}

/** `replySchema` and `replies` as declared, refused (naming the handler) when they are not zod schemas. */
function replyDeclarations(where: string, replyType: string, pending: Pending): Pick<RegisteredHandler, "replySchema" | "replies"> {
  const { replySchema, replies } = pending;
  if (replySchema !== undefined && !isZodSchema(replySchema)) throw new RegistryError(`${where}: replySchema is not a zod schema`);
  if (replies !== undefined && (typeof replies !== "object" || replies === null || Array.isArray(replies))) {
    throw new RegistryError(`${where}: replies must be an object of reply type → zod schema`);
  }
  const declared: Record<string, ZodType> = {};
  for (const [type, schema] of Object.entries((replies ?? {}) as Record<string, unknown>)) {
    if (!isZodSchema(schema)) throw new RegistryError(`${where}: replies["${type}"] is not a zod schema`);
    if (type === replyType) throw new RegistryError(`${where}: replies["${type}"] is its replyType; declare that one's schema as replySchema`);
    if (type === "error") throw new RegistryError(`${where}: replies cannot declare "error", core's error reply`);
    declared[type] = schema;
  }
  return { replySchema: replySchema as ZodType | undefined, replies: Object.freeze(declared) };
}

function isZodSchema(value: unknown): value is ZodType {
  return typeof (value as { safeParse?: unknown } | null)?.safeParse === "function";
}
