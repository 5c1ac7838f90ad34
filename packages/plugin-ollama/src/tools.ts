/**
 * Tool calling on /api/chat, in Ollama's shapes: `tools` (function tools, the same object as
 * OpenAI's), an assistant turn's `tool_calls` (`{"function": {"name", "arguments": {…}}}`, the
 * arguments an object), and "tool" turns (`tool_name`) answering them. The calls are read out of
 * the model's text by core's ToolCallParser; the chat template renders the tools and the history.
 *
 * Ollama has no `tool_choice` (its tools are always "auto"); this node takes one as an extension
 * (OpenAI's values), so that a caller can make the model call a function, constrained to its
 * parameters schema (docs/plugin-ollama.md, "Tools").
 */
import { TOOL_NAME_PATTERN, z, type ChatMessage, type ModelPipeline, type ToolCall, type ToolCallParserOptions, type ToolChoice, type ToolSpec } from "@modelnode/core";

const required = (what: string) => (issue: { input?: unknown }) => (issue.input === undefined ? "required" : `expected ${what}`);

const functionName = z
  .string({ error: required("a function name (a string)") })
  .regex(TOOL_NAME_PATTERN, { error: 'expected 1 to 64 letters, digits, "_" or "-"' });

/** One of `tools`: `{"type": "function", "function": {"name", "description"?, "parameters"?}}`. */
export const toolSchema = z
  .strictObject(
    {
      type: z.literal("function", { error: 'expected "function" (the only tool type)' }),
      function: z.strictObject(
        {
          name: functionName,
          description: z.string({ error: "expected a string" }).nullish(),
          parameters: z.record(z.string(), z.unknown(), { error: "expected a JSON schema (an object)" }).nullish(),
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

/** The extension `tool_choice`: OpenAI's values ("auto" when absent, as Ollama always is). */
export const toolChoiceSchema = z.union(
  [z.enum(["auto", "none", "required"]), z.strictObject({ type: z.literal("function"), function: z.strictObject({ name: functionName }) })],
  { error: 'expected "auto", "none", "required" or {"type": "function", "function": {"name"}}' },
);

/** An assistant turn's call as Ollama writes it (`id` and `function.index` as newer Ollama versions add them). */
export const ollamaToolCallSchema = z.strictObject(
  {
    id: z.string({ error: "expected a string" }).min(1, { error: "expected a call id" }).max(64, { error: "expected at most 64 characters" }).nullish(),
    type: z.literal("function", { error: 'expected "function"' }).nullish(),
    function: z.strictObject(
      {
        name: functionName,
        arguments: z.record(z.string(), z.unknown(), { error: required("the arguments (a JSON object)") }),
        index: z.int({ error: "expected an integer" }).nullish(),
      },
      { error: 'expected {"name", "arguments"}' },
    ),
  },
  { error: 'expected {"function": {"name", "arguments"}}' },
);

export type OllamaToolCall = z.output<typeof ollamaToolCallSchema>;

/** A chat turn as parsed, before its tool calls and answers are linked (linkToolTurns). */
export interface ParsedTurn {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  tool_calls?: OllamaToolCall[];
  tool_name?: string;
  tool_call_id?: string;
}

/**
 * The pipeline's chat: each assistant call gets an id (its own, or one made from its place), and
 * each tool turn the id of the call it answers — the one it names (`tool_call_id`), else the
 * latest assistant turn's first unanswered call of its `tool_name` (or, without a name, the first
 * unanswered one), as Ollama pairs them by order.
 */
export function linkToolTurns(turns: readonly ParsedTurn[]): ChatMessage[] {
  let open: { id: string; name: string; answered: boolean }[] = [];
  return turns.map((turn, m): ChatMessage => {
    if (turn.role === "assistant" && turn.tool_calls && turn.tool_calls.length > 0) {
      const calls: ToolCall[] = turn.tool_calls.map((call, c) => ({
        id: call.id ?? `call_${m}_${c}`,
        type: "function",
        function: { name: call.function.name, arguments: JSON.stringify(call.function.arguments) },
      }));
      open = calls.map((call) => ({ id: call.id, name: call.function.name, answered: false }));
      return { role: turn.role, content: turn.content, tool_calls: calls };
    }
    if (turn.role !== "tool") return { role: turn.role, content: turn.content };
    const answered = turn.tool_call_id
      ? open.find((call) => call.id === turn.tool_call_id)
      : open.find((call) => !call.answered && (turn.tool_name === undefined || call.name === turn.tool_name));
    if (answered) answered.answered = true;
    const id = turn.tool_call_id ?? answered?.id;
    return { role: "tool", content: turn.content, ...(id !== undefined ? { tool_call_id: id } : {}) };
  });
}

/** A call the model made, as Ollama answers it: the arguments parsed back into an object. */
export function ollamaCall(call: ToolCall, index: number): Record<string, unknown> {
  return { id: call.id, function: { index, name: call.function.name, arguments: JSON.parse(call.function.arguments) as unknown } };
}

/**
 * `tool_choice` needs `tools` and, naming a function, one of them; names are distinct. (Tools and
 * `format` go together: with "auto" a reply calls or follows the format.) Reads fields
 * defensively (zod may run it with fields that failed their own checks).
 */
export function checkTools(body: { tools?: unknown; tool_choice?: unknown; format?: unknown }, ctx: z.RefinementCtx): void {
  const tools: unknown[] = Array.isArray(body.tools) ? body.tools : [];
  const nameOf = (tool: unknown): unknown => (tool as { function?: { name?: unknown } } | null)?.function?.name;
  const choice = body.tool_choice;
  if (choice !== undefined && choice !== null && choice !== "none" && tools.length === 0) ctx.addIssue({ code: "custom", path: ["tool_choice"], message: "needs tools" });
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

/**
 * How to read a chat's calls: the model family's format, only the functions it may call, one
 * with a named function. Undefined: no tools, tool_choice "none", or a model that takes no tools.
 */
export function toolParsing(
  body: { model: string; tools?: ToolSpec[] | null; tool_choice?: ToolChoice | null },
  modelId: string,
  pipeline: Pick<ModelPipeline, "listModels">,
): ToolCallParserOptions | undefined {
  const tools = body.tools ?? [];
  const choice = body.tool_choice ?? "auto";
  if (tools.length === 0 || choice === "none") return undefined;
  const format = pipeline.listModels().find((m) => m.id === modelId)?.toolCallFormat;
  if (!format) return undefined;
  const names = new Set(typeof choice === "object" ? [choice.function.name] : tools.map((tool) => tool.function.name));
  return { format, names, ...(typeof choice === "object" ? { maxCalls: 1 } : {}) };
}
