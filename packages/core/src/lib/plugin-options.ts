/**
 * One way for every plugin to validate its options: a zod schema (exported, so applications can
 * compose it into their own config), and one TypeError naming the plugin and each bad option.
 */
import type { z } from "zod";

/**
 * Parses `options` (undefined counts as `{}`) with `schema`; on failure throws a TypeError like
 * `legacyPlugin: maxInputTokens must be an integer ≥ 1; unknown option "maxInputToken"`.
 * Write the schema's messages as "expected …", so that they read well after the field's name.
 */
export function parsePluginOptions<S extends z.ZodType>(plugin: string, schema: S, options: unknown): z.output<S> {
  const parsed = schema.safeParse(options ?? {});
  if (parsed.success) return parsed.data;
  throw new TypeError(`${plugin}: ${parsed.error.issues.map(describeOptionIssue).join("; ")}`);
}

/** "maxTrackedWorkers must be a whole number ≥ 0", "keyHashes[1] must be …", "unknown option \"x\"". */
export function describeOptionIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.reduce<string>(
    (name, key) => (typeof key === "number" ? `${name}[${key}]` : name ? `${name}.${String(key)}` : String(key)),
    "",
  );
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys.map((key) => `"${field ? `${field}.` : ""}${key}"`).join(", ");
    return `unknown option${issue.keys.length > 1 ? "s" : ""} ${keys}`;
  }
  if (!field) return issue.message.replace(/^expected /, "options must be ");
  return issue.message.startsWith("expected ") ? `${field} must be ${issue.message.slice(9)}` : `${field}: ${issue.message}`;
}
