/**
 * Tool use on /v1/messages, in Anthropic's shapes: `tools` (client tools: name, description,
 * input_schema) and `tool_choice` (auto, any, tool, none; `disable_parallel_tool_use`), as the
 * pipeline's ToolSpec / ToolChoice. Anthropic's server tools (web search, code execution, …) and
 * prompt caching are refused by name.
 */
import { TOOL_NAME_PATTERN, z, type ModelPipeline, type ToolCallParserOptions, type ToolChoice, type ToolSpec } from "@modelnode/core";
import { issue, refuseUnknown } from "./blocks.js";

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** `tools`, checked: each a client tool with a distinct name and an object input_schema. */
export function toolsSchema(maxTools: number) {
  return z.unknown().transform((value, ctx): ToolSpec[] => {
    if (!Array.isArray(value) || value.length > maxTools) {
      issue(ctx, [], Array.isArray(value) ? `expected at most ${maxTools} tools` : "expected an array of tools");
      return z.NEVER;
    }
    const seen = new Set<string>();
    const tools = value.map((tool: unknown, i): ToolSpec | undefined => {
      if (!isObject(tool)) return void issue(ctx, [i], 'expected a tool ({"name", "description", "input_schema"})');
      if (tool.type !== undefined && tool.type !== null && tool.type !== "custom") {
        return void issue(ctx, [i, "type"], `server tools ("${String(tool.type).slice(0, 48)}") are not supported: this node runs no tools of its own; give client tools (name, description, input_schema)`);
      }
      refuseUnknown(tool, ["type", "name", "description", "input_schema"], { cache_control: "prompt caching is not supported" }, ctx, [i]);
      const { name, description, input_schema: schema } = tool;
      if (typeof name !== "string" || !TOOL_NAME_PATTERN.test(name)) return void issue(ctx, [i, "name"], name === undefined ? "required" : 'expected 1 to 64 letters, digits, "_" or "-"');
      if (seen.has(name)) return void issue(ctx, [i, "name"], `a second tool named "${name}"`);
      seen.add(name);
      if (description !== undefined && typeof description !== "string") return void issue(ctx, [i, "description"], "expected a string");
      if (!isObject(schema)) return void issue(ctx, [i, "input_schema"], schema === undefined ? "required" : "expected a JSON schema (an object)");
      if (schema.type !== "object") return void issue(ctx, [i, "input_schema", "type"], 'expected "object": a tool\'s input is an object');
      return { type: "function", function: { name, ...(description ? { description } : {}), parameters: schema } };
    });
    return tools.every((tool) => tool !== undefined) ? (tools as ToolSpec[]) : z.NEVER;
  });
}

const CHOICE = 'expected {"type": "auto"}, {"type": "any"}, {"type": "tool", "name"} or {"type": "none"}';

/** `tool_choice`, in Anthropic's shape. */
export const toolChoiceSchema = z
  .strictObject(
    {
      type: z.enum(["auto", "any", "tool", "none"], { error: CHOICE }),
      name: z.string({ error: "expected a tool name (a string)" }).optional(),
      disable_parallel_tool_use: z.boolean({ error: "expected true or false" }).optional(),
    },
    { error: (i) => (i.code === "unrecognized_keys" ? `unknown field ${i.keys.map((k) => `"${k.slice(0, 64)}"`).join(", ")}` : CHOICE) },
  )
  .superRefine((choice, ctx) => {
    if (choice.type === "tool" && choice.name === undefined) issue(ctx, ["name"], 'required with type "tool"');
    if (choice.type !== "tool" && choice.name !== undefined) issue(ctx, ["name"], 'only with type "tool"');
    if (choice.type === "none" && choice.disable_parallel_tool_use !== undefined) issue(ctx, ["disable_parallel_tool_use"], 'not with type "none"');
  });

export type AnthropicToolChoice = z.output<typeof toolChoiceSchema>;

/** The pipeline's tool choice ("auto" when absent). */
export function pipelineChoice(choice: AnthropicToolChoice | undefined): ToolChoice | undefined {
  if (!choice) return undefined;
  if (choice.type === "any") return "required";
  if (choice.type === "tool") return { type: "function", function: { name: choice.name! } };
  return choice.type;
}

/** `tool_choice` needs `tools`, and naming a tool, one of them. Reads defensively (fields may have failed their own checks). */
export function checkToolChoice(body: { tools?: unknown; tool_choice?: unknown }, ctx: z.RefinementCtx): void {
  const choice = body.tool_choice as { type?: unknown; name?: unknown } | undefined;
  if (!isObject(choice)) return;
  const tools = Array.isArray(body.tools) ? (body.tools as unknown[]) : [];
  if (choice.type !== "none" && tools.length === 0) issue(ctx, ["tool_choice"], "needs tools");
  const names = tools.map((tool) => (tool as ToolSpec | undefined)?.function?.name ?? (tool as { name?: unknown } | undefined)?.name);
  if (choice.type === "tool" && typeof choice.name === "string" && tools.length > 0 && !names.includes(choice.name)) {
    issue(ctx, ["tool_choice", "name"], `names "${choice.name.slice(0, 64)}", which is not one of the tools`);
  }
}

/**
 * How to read the reply's tool_use: the model family's format, the tools it may call (one with a
 * named tool or `disable_parallel_tool_use`). Undefined: no tools, "none", or a model without tools.
 */
export function toolParsing(body: { model: string; tools?: ToolSpec[]; tool_choice?: AnthropicToolChoice }, pipeline: Pick<ModelPipeline, "listModels">): ToolCallParserOptions | undefined {
  const tools = body.tools ?? [];
  const choice = body.tool_choice;
  if (tools.length === 0 || choice?.type === "none") return undefined;
  const format = pipeline.listModels().find((m) => m.id === body.model)?.toolCallFormat;
  if (!format) return undefined;
  const names = new Set(choice?.type === "tool" ? [choice.name!] : tools.map((tool) => tool.function.name));
  return { format, names, ...(choice?.type === "tool" || choice?.disable_parallel_tool_use === true ? { maxCalls: 1 } : {}) };
}
