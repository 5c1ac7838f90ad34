/** Builds the message_type → handler map at startup and refuses ambiguous or incomplete handlers. */
import type { DependencyContainer } from "tsyringe";
import type { ZodType } from "zod";
import { getHandlerMetadata, type MessageHandlerClass, type MessageHandlerInstance } from "./decorators.js";

export interface RegisteredHandler {
  type: string;
  replyType: string;
  schema: ZodType;
  className: string;
  instance: MessageHandlerInstance;
}

export class RegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegistryError";
  }
}

export class HandlerRegistry {
  private constructor(private readonly handlers: Map<string, RegisteredHandler>) {}

  /** Resolves each class through the container (one instance per node) and indexes it by type. */
  static build(classes: Iterable<MessageHandlerClass>, container: DependencyContainer): HandlerRegistry {
    const byType = new Map<string, { cls: MessageHandlerClass; schema: ZodType; replyType: string }>();
    for (const cls of classes) {
      const meta = getHandlerMetadata(cls);
      if (!meta) {
        throw new RegistryError(`${cls.name} is listed as a handler but has no @MessageHandler(...) decorator`);
      }
      if (!meta.schema || typeof (meta.schema as { safeParse?: unknown }).safeParse !== "function") {
        throw new RegistryError(`@MessageHandler("${meta.type}") on ${cls.name} has no zod schema: pass { schema }`);
      }
      const existing = byType.get(meta.type);
      if (existing) {
        throw new RegistryError(
          `two handlers for message type "${meta.type}": ${existing.cls.name} and ${cls.name}`,
        );
      }
      byType.set(meta.type, { cls, schema: meta.schema, replyType: meta.replyType ?? `${meta.type}_response` });
    }
    const handlers = new Map<string, RegisteredHandler>();
    for (const [type, { cls, schema, replyType }] of byType) {
      const instance = container.resolve(cls as unknown as new () => MessageHandlerInstance);
      handlers.set(type, { type, replyType, schema, className: cls.name, instance });
    }
    return new HandlerRegistry(handlers);
  }

  get(type: string): RegisteredHandler | undefined {
    return this.handlers.get(type);
  }

  types(): string[] {
    return [...this.handlers.keys()];
  }
}
