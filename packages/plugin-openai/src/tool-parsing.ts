import type { ModelPipeline, ToolCallParserOptions, ToolChoice, ToolSpec } from "@modelnode/core";

/**
 * How to read a reply's tool calls, for the chat and Responses routes alike: in the format of the
 * model's family (ModelInfo.toolCallFormat), only the functions it may call, at most one with
 * parallel calls off or a named function (else at most `maxCalls`, when given). Undefined: no
 * tools, tool_choice "none", or a pipeline that takes no tools.
 */
export function toolParsing(
  pipeline: ModelPipeline,
  modelId: string,
  tools: readonly ToolSpec[] | null | undefined,
  choice: ToolChoice | null | undefined,
  parallelToolCalls: boolean | null | undefined,
  maxCalls?: number | null,
): ToolCallParserOptions | undefined {
  const chosen = choice ?? "auto";
  if (!tools || tools.length === 0 || chosen === "none") return undefined;
  const format = pipeline.listModels().find((m) => m.id === modelId)?.toolCallFormat;
  if (!format) return undefined;
  const names = new Set(typeof chosen === "object" ? [chosen.function.name] : tools.map((tool) => tool.function.name));
  const limit = parallelToolCalls === false || typeof chosen === "object" ? 1 : (maxCalls ?? undefined);
  return { format, names, ...(limit !== undefined ? { maxCalls: limit } : {}) };
}
