/**
 * The tool-calling fields of POST /v1/chat/completions, in OpenAI's shapes: `tools`,
 * `tool_choice`, and an assistant message's `tool_calls` (docs/structured-output.md, "Tool
 * calling"), with the checks that span fields.
 */
import { TOOL_NAME_PATTERN, z, type ToolSpec } from "@modelnode/core";

const required = (what: string) => (issue: { input?: unknown }) => (issue.input === undefined ? "required" : `expected ${what}`);

/** A function's name, as OpenAI allows it. */
const functionName = z
  .string({ error: required("a function name (a string)") })
  .regex(TOOL_NAME_PATTERN, { error: 'expected 1 to 64 letters, digits, "_" or "-"' });

/** One of `tools`: `{"type": "function", "function": {"name", "description"?, "parameters"?, "strict"?}}`. */
export const toolSchema = z
  .object(
    {
      type: z.literal("function", { error: 'expected "function"' }),
      function: z.object(
        {
          name: functionName,
          description: z.string({ error: "expected a string" }).nullish(),
          parameters: z.record(z.string(), z.unknown(), { error: "expected a JSON schema (an object)" }).nullish(),
          /** Calls are always held to the parameters schema where they are constrained. */
          strict: z.boolean({ error: "expected true or false" }).nullish(),
        },
        { error: 'expected {"name", "description", "parameters"}' },
      ),
    },
    { error: 'expected {"type": "function", "function": {…}}' },
  )
  .transform(
    ({ function: { name, description, parameters } }): ToolSpec => ({
      type: "function",
      function: { name, ...(description ? { description } : {}), ...(parameters ? { parameters } : {}) },
    }),
  );

export const toolChoiceSchema = z.union(
  [
    z.enum(["auto", "none", "required"]),
    z.object({ type: z.literal("function"), function: z.object({ name: functionName }) }),
  ],
  { error: 'expected "auto", "none", "required" or {"type": "function", "function": {"name"}}' },
);

/** An assistant turn's call: `{"id", "type": "function", "function": {"name", "arguments"}}`. */
export const toolCallSchema = z.object(
  {
    id: z.string({ error: required("a call id (a string)") }).min(1).max(64, { error: "expected at most 64 characters" }),
    type: z.literal("function", { error: 'expected "function"' }),
    function: z.object({ name: functionName, arguments: z.string({ error: required("the arguments (JSON text)") }) }, { error: 'expected {"name", "arguments"}' }),
  },
  { error: 'expected {"id", "type": "function", "function": {"name", "arguments"}}' },
);

/**
 * `tool_choice` needs `tools` and, naming a function, one of them; names are distinct. (Tools and
 * a structured output format go together: with "auto" a reply calls or follows the format.) zod
 * may run this with fields that failed their own checks still in their raw form: it reads them
 * defensively.
 */
export function checkTools(body: { tools?: unknown; tool_choice?: unknown }, ctx: z.RefinementCtx): void {
  const tools: unknown[] = Array.isArray(body.tools) ? body.tools : [];
  const nameOf = (tool: unknown): unknown => (tool as { function?: { name?: unknown } } | null)?.function?.name;
  const choice = body.tool_choice;
  if (choice !== undefined && choice !== null && choice !== "none" && tools.length === 0) {
    ctx.addIssue({ code: "custom", path: ["tool_choice"], message: "needs tools" });
  }
  const chosen = typeof choice === "object" && choice !== null ? nameOf(choice) : undefined;
  if (typeof chosen === "string" && tools.length > 0 && !tools.some((tool) => nameOf(tool) === chosen)) {
    ctx.addIssue({ code: "custom", path: ["tool_choice"], message: `names "${chosen}", which is not one of the tools` });
  }
  const seen = new Set<unknown>();
  tools.forEach((tool, i) => {
    const name = nameOf(tool);
    if (typeof name !== "string") return;
    if (seen.has(name)) ctx.addIssue({ code: "custom", path: ["tools", i, "function", "name"], message: `a second tool named "${name}"` });
    seen.add(name);
  });
}
