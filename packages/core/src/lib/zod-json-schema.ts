/**
 * zod schemas as JSON Schema for the AsyncAPI document (asyncapi.ts): z.toJSONSchema with the
 * choices a protocol description needs, and its definitions moved under the document's
 * components with their `$ref`s rewritten.
 */
import { z, type ZodType } from "zod";

export type JsonSchema = Record<string, unknown>;

/**
 * A zod schema as draft-07 JSON Schema (the dialect AsyncAPI schemas extend), for the input side
 * (what a client sends: fields with defaults are optional). Parts JSON Schema cannot express
 * (transforms, custom types, dates, …) become `{}` with a description; refinements are noted in
 * a description; a schema that cannot be converted at all becomes `{}` with a description. Its
 * definitions move to `schemas` under `<key>.<name>`, with their `$ref`s rewritten.
 */
export function zodToJsonSchema(schema: ZodType, key: string, schemas: Record<string, JsonSchema>, what: string): JsonSchema {
  let json: JsonSchema;
  try {
    json = z.toJSONSchema(schema, {
      io: "input",
      target: "draft-07",
      cycles: "ref",
      reused: "inline",
      unrepresentable: ({ message }) => ({
        description: `Not expressible in JSON Schema (${message.replace(/ cannot be represented in JSON Schema$/, "")}); the node checks it.`,
      }),
      override: ({ zodSchema, jsonSchema }) => {
        if (hasRefinement(zodSchema)) {
          const note = "The node checks further rules that JSON Schema cannot express.";
          jsonSchema.description = typeof jsonSchema.description === "string" ? `${jsonSchema.description} ${note}` : note;
        }
      },
    }) as JsonSchema;
  } catch (error) {
    return {
      description: `The schema of ${what} could not be expressed in JSON Schema (${clipText((error as Error)?.message ?? String(error))}); the node validates it when it arrives.`,
    };
  }
  delete json.$schema;
  const defs = { ...((json.definitions as Record<string, JsonSchema> | undefined) ?? {}), ...((json.$defs as Record<string, JsonSchema> | undefined) ?? {}) };
  delete json.definitions;
  delete json.$defs;
  const names = new Map(Object.keys(defs).map((name) => [name, `${key}.${name.replace(/[^A-Za-z0-9_.-]/g, "_")}`]));
  const rewrite = (ref: string): string => {
    if (ref === "#") return `#/components/schemas/${key}`;
    const match = /^#\/(?:definitions|\$defs)\/([^/]+)$/.exec(ref);
    const target = match ? names.get(decodeURIComponent(match[1].replace(/~1/g, "/").replace(/~0/g, "~"))) : undefined;
    return target ? `#/components/schemas/${target}` : ref;
  };
  for (const [name, def] of Object.entries(defs)) schemas[names.get(name)!] = rewriteRefs(def, rewrite) as JsonSchema;
  return rewriteRefs(json, rewrite) as JsonSchema;
}

function rewriteRefs(value: unknown, rewrite: (ref: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, rewrite));
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, k === "$ref" && typeof v === "string" ? rewrite(v) : rewriteRefs(v, rewrite)]),
  );
}

/** `.refine()` / `.superRefine()` add checks of kind "custom", which JSON Schema output drops. */
function hasRefinement(schema: unknown): boolean {
  const checks = (schema as { _zod?: { def?: { checks?: { _zod?: { def?: { check?: string } } }[] } } })._zod?.def?.checks;
  return Array.isArray(checks) && checks.some((c) => c?._zod?.def?.check === "custom");
}

function clipText(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
