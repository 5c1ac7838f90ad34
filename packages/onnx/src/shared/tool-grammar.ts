/**
 * Tool calling (GenerateRequest.tools; docs/structured-output.md, "Tool calling"): the request's
 * tools checked on the caller's thread, and the grammar that constrains the calls, as the grammar
 * thread compiles it (`GrammarSource` kind "tools": an xgrammar structural tag, built there).
 *
 * - "required": only calls (one or more, or exactly one when parallel calls are off);
 * - a named function: exactly one call of it;
 * - "auto": free text until the model writes the format's trigger (`<tool_call>` for Hermes), then
 *   a call of one of the functions;
 * - "none": no grammar (and the parser reads no calls).
 * With a grammar of its own too (response_format), "auto" becomes calls or that grammar: a reply
 * either calls or is, say, the JSON the schema asks for (what agents with an output type and tools
 * send); "required" and a named function stay calls only; "none" is the grammar alone.
 * Each call's arguments follow its function's parameters schema, lowered as a response_format's
 * JSON schema is (json-schema-lowering.ts; strict: no properties the schema does not name).
 */
import { errors, TOOL_NAME_PATTERN, type ChatMessage, type GenerateRequest, type ToolCallFormat, type ToolSpec } from "@modelnode/core/pipeline";
import { lowerSchema, SchemaProblem } from "./json-schema-lowering.js";

/** One function's call, as the grammar thread writes its tag. */
export interface ToolGrammarEntry {
  name: string;
  /** Its parameters schema, lowered (JSON text); `ranges` as in GrammarSource "json". */
  schema: string;
  ranges: [string, string][];
}

export interface ToolsGrammarSource {
  kind: "tools";
  format: ToolCallFormat;
  /** "required": calls only; "auto": free text, constrained once a call opens. */
  mode: "required" | "auto";
  /** At most one call. */
  single: boolean;
  tools: ToolGrammarEntry[];
  /**
   * "auto" with a grammar of the request's own: the reply is calls or this (then no free text).
   * GrammarSource's other kinds, written out: grammar-spec.ts imports this file.
   */
  otherwise?: { kind: "json"; schema: string; strict: boolean; ranges: [string, string][] } | { kind: "regex"; pattern: string } | { kind: "ebnf"; ebnf: string };
}

/** How each format opens and closes one call of `name` (the text between is its arguments object). */
export function toolTag(format: ToolCallFormat, name: string): { begin: string; end: string } {
  const quoted = JSON.stringify(name);
  return format === "llama3_json"
    ? { begin: `{"name": ${quoted}, "parameters": `, end: "}" }
    : { begin: `<tool_call>\n{"name": ${quoted}, "arguments": `, end: "}\n</tool_call>" };
}

/** The text that opens a call in "auto" mode (what xgrammar's triggered tags wait for). */
export function toolTrigger(format: ToolCallFormat): string {
  return format === "llama3_json" ? '{"name": ' : "<tool_call>";
}

/** The grammar limits (grammar-spec.ts's GrammarLimits), and the most tools in one request. */
export interface ToolLimits {
  maxTools: number;
  maxGrammarBytes: number;
  maxGrammarRepetition: number;
  maxGrammarAlternatives: number;
}

/**
 * The request's tools checked (a list of 1 to `maxTools` functions with valid, distinct names;
 * parameters a JSON object), plain copies of them, and the grammar for its `toolChoice` (undefined
 * for "none"). INVALID_REQUEST / INVALID_GRAMMAR name the field at fault (`tools[2].function.name`).
 */
export function checkTools(request: Pick<GenerateRequest, "tools" | "toolChoice" | "parallelToolCalls" | "grammar" | "messages">, format: ToolCallFormat | undefined, limits: ToolLimits): { tools: ToolSpec[]; grammar: ToolsGrammarSource | undefined } {
  const invalid = errors.invalidRequest;
  const list: unknown = request.tools;
  if (format === undefined) throw invalid("This model takes no tools.", "tools");
  if (!Array.isArray(list) || list.length === 0 || list.length > limits.maxTools) throw invalid(`The tools must be a list of 1 to ${limits.maxTools} functions.`, "tools");
  if (request.messages === undefined) throw invalid("Tools need a chat (messages), not a prompt.", "tools");
  const bytes = Buffer.byteLength(JSON.stringify(list));
  if (bytes > limits.maxGrammarBytes) throw errors.grammarTooLarge(bytes, limits.maxGrammarBytes, "tools");
  const tools: ToolSpec[] = [];
  const names = new Set<string>();
  list.forEach((tool: unknown, i) => {
    const at = `tools[${i}]`;
    const fn = (tool as { function?: unknown } | null)?.function as Record<string, unknown> | undefined;
    if ((tool as { type?: unknown } | null)?.type !== "function" || typeof fn !== "object" || fn === null) throw invalid(`Tool ${i} must be {"type": "function", "function": {…}}.`, at);
    const { name, description, parameters } = fn;
    if (typeof name !== "string" || !TOOL_NAME_PATTERN.test(name)) throw invalid(`Tool ${i}'s name must be 1 to 64 letters, digits, "_" or "-".`, `${at}.function.name`);
    if (names.has(name)) throw invalid(`Two tools are named "${name}".`, `${at}.function.name`);
    names.add(name);
    if (description !== undefined && typeof description !== "string") throw invalid(`Tool ${i}'s description must be a string.`, `${at}.function.description`);
    if (parameters !== undefined && (typeof parameters !== "object" || parameters === null || Array.isArray(parameters))) throw invalid(`Tool ${i}'s parameters must be a JSON schema (an object).`, `${at}.function.parameters`);
    tools.push({ type: "function", function: { name, ...(description !== undefined ? { description } : {}), ...(parameters !== undefined ? { parameters: parameters as Record<string, unknown> } : {}) } });
  });
  const choice = request.toolChoice ?? "auto";
  let chosen = tools;
  let mode: ToolsGrammarSource["mode"];
  if (choice === "none") return { tools, grammar: undefined };
  if (choice === "auto" || choice === "required") mode = choice;
  else if (typeof choice === "object" && choice !== null && choice.type === "function" && typeof choice.function?.name === "string") {
    chosen = tools.filter((tool) => tool.function.name === choice.function.name);
    if (chosen.length === 0) throw invalid(`The tool_choice names "${choice.function.name.slice(0, 64)}", which is not one of the tools.`, "tool_choice");
    mode = "required";
  } else throw invalid('The tool_choice must be "auto", "none", "required" or {"type": "function", "function": {"name"}}.', "tool_choice");
  const single = request.parallelToolCalls === false || chosen !== tools || format === "llama3_json";
  const entries = chosen.map((tool): ToolGrammarEntry => {
    const i = tools.indexOf(tool);
    const parameters = tool.function.parameters ?? { type: "object", properties: {} };
    try {
      if (parameters.type !== undefined && parameters.type !== "object") throw new SchemaProblem('must be {"type": "object", …}', "/");
      const lowered = lowerSchema({ type: "object", ...parameters }, { maxRepetition: limits.maxGrammarRepetition, maxAlternatives: limits.maxGrammarAlternatives });
      return { name: tool.function.name, schema: JSON.stringify(lowered.schema), ranges: lowered.ranges };
    } catch (error) {
      if (!(error instanceof SchemaProblem)) throw error;
      throw errors.invalidGrammar(`The parameters schema of tool "${tool.function.name}" at ${error.path || "/"}: ${error.message.replace(/\.?$/, ".")}`, `tools[${i}].function.parameters`);
    }
  });
  return { tools, grammar: { kind: "tools", format, mode, single, tools: entries } };
}

/** The function names a request's calls may use (for the parser): all of them, or the chosen one. */
export function toolNames(tools: readonly ToolSpec[]): Set<string> {
  return new Set(tools.map((tool) => tool.function.name));
}

const FALLBACK_PREAMBLE =
  "You may call functions. Their signatures, as JSON, are within <tools></tools>:\n<tools>\n";
const FALLBACK_INSTRUCTIONS =
  "\n</tools>\n\nTo call a function, reply with a JSON object with its name and arguments within <tool_call></tool_call> tags:\n" +
  '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>';

/**
 * For chat templates that know no tools: the chat with a system preamble listing the tools and
 * asking for Hermes calls (merged into a leading system message), assistant calls written as
 * `<tool_call>` blocks in their content, and "tool" turns as user turns holding
 * `<tool_response>` blocks (templates that know no tools often refuse other roles).
 */
export function withToolPreamble(messages: readonly ChatMessage[], tools: readonly ToolSpec[] | undefined): ChatMessage[] {
  const out: ChatMessage[] = messages.map((message): ChatMessage => {
    if (message.role === "tool") return { role: "user", content: `<tool_response>\n${message.content}\n</tool_response>` };
    if (message.tool_calls && message.tool_calls.length > 0) {
      const calls = message.tool_calls.map((call) => `<tool_call>\n{"name": ${JSON.stringify(call.function.name)}, "arguments": ${call.function.arguments}}\n</tool_call>`);
      return { role: message.role, content: [message.content, ...calls].filter((part) => part.length > 0).join("\n") };
    }
    return { role: message.role, content: message.content };
  });
  if (!tools || tools.length === 0) return out;
  const preamble = FALLBACK_PREAMBLE + tools.map((tool) => JSON.stringify(tool)).join("\n") + FALLBACK_INSTRUCTIONS;
  if (out[0]?.role === "system") out[0] = { role: "system", content: `${out[0].content}\n\n${preamble}` };
  else out.unshift({ role: "system", content: preamble });
  return out;
}
