/**
 * The playground page: one @modelnode/client connection to the node that served the page
 * (same host and port; wss: when the page is https), its state shown as it changes; the models
 * from list_models; a prompt or a chat streamed into the page; Stop aborts the generation's
 * signal, which the client turns into inference_cancel.
 */
import { ModelNodeClient, type ModelInfo, type TokenLogprobEntry } from "@modelnode/client";
import { buildRequest, formatMs, formatProbability, formatRate, GenerationTimer, socketUrl, type ChatTurn, type FormValues } from "./request.js";

interface DefaultsDocument {
  defaults: { max_tokens: number | null; temperature: number | null; top_p: number | null; top_k: number | null };
  limits: { max_tokens: number | null; max_prompt_chars: number | null; max_stop_sequences: number | null };
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

const ui = {
  connection: element<HTMLSpanElement>("connection"),
  authForm: element<HTMLFormElement>("auth"),
  licenseKey: element<HTMLInputElement>("license-key"),
  authState: element<HTMLSpanElement>("auth-state"),
  form: element<HTMLFormElement>("request"),
  model: element<HTMLSelectElement>("model"),
  refreshModels: element<HTMLButtonElement>("refresh-models"),
  promptPane: element<HTMLDivElement>("prompt-pane"),
  prompt: element<HTMLTextAreaElement>("prompt"),
  chatPane: element<HTMLDivElement>("chat-pane"),
  turns: element<HTMLOListElement>("turns"),
  addTurn: element<HTMLButtonElement>("add-turn"),
  turnTemplate: element<HTMLTemplateElement>("turn-template"),
  maxTokens: element<HTMLInputElement>("max-tokens"),
  temperature: element<HTMLInputElement>("temperature"),
  topP: element<HTMLInputElement>("top-p"),
  topK: element<HTMLInputElement>("top-k"),
  seed: element<HTMLInputElement>("seed"),
  stop: element<HTMLTextAreaElement>("stop"),
  topLogprobs: element<HTMLInputElement>("top-logprobs"),
  jsonSchema: element<HTMLTextAreaElement>("json-schema"),
  logprobs: element<HTMLOListElement>("logprobs"),
  generate: element<HTMLButtonElement>("generate"),
  stopButton: element<HTMLButtonElement>("stop-button"),
  state: element<HTMLSpanElement>("generation-state"),
  ttft: element<HTMLElement>("ttft"),
  rate: element<HTMLElement>("rate"),
  tokens: element<HTMLElement>("tokens"),
  output: element<HTMLPreElement>("output"),
  error: element<HTMLParagraphElement>("error"),
};

const FIELD_INPUTS: Partial<Record<keyof FormValues, HTMLElement>> = {
  model: ui.model,
  prompt: ui.prompt,
  turns: ui.turns,
  max_tokens: ui.maxTokens,
  temperature: ui.temperature,
  top_p: ui.topP,
  top_k: ui.topK,
  seed: ui.seed,
  stop: ui.stop,
  json_schema: ui.jsonSchema,
  top_logprobs: ui.topLogprobs,
};

const client = new ModelNodeClient(socketUrl(location));
let running: AbortController | undefined;

// ---- connection -------------------------------------------------------------------------------

client.on("statechange", (event) => {
  const { state, attempt, delayMs, error } = event;
  ui.connection.textContent = state;
  ui.connection.dataset.state = state;
  const detail =
    state === "reconnecting" && attempt !== undefined
      ? `retry ${attempt}${delayMs !== undefined ? ` in ${formatMs(delayMs)}` : ""}${error ? ` (${error.message})` : ""}`
      : error
        ? error.message
        : "";
  ui.connection.title = detail;
  if (state === "open") void refreshModels();
});
client.on("error", (event) => showError(event.error.message, event.error.code));

// ---- authentication ---------------------------------------------------------------------------

ui.authForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = ui.licenseKey.value;
  if (key === "") {
    ui.authState.textContent = "Type the license key first.";
    ui.licenseKey.focus();
    return;
  }
  ui.authState.textContent = "Signing in…";
  try {
    await client.authenticate(key);
    ui.authState.textContent = "Signed in (again after each reconnect).";
    await refreshModels();
  } catch (error) {
    ui.authState.textContent = `Not signed in: ${messageOf(error)}`;
  }
});

// ---- models -----------------------------------------------------------------------------------

async function refreshModels(): Promise<void> {
  try {
    const models = await client.listModels();
    showModels(models);
    if (ui.error.dataset.code === "UNAUTHENTICATED") clearError();
  } catch (error) {
    if (codeOf(error) === "UNAUTHENTICATED") {
      ui.authState.textContent = "This node requires a license key: sign in to list its models.";
      showModels([]);
    } else showError(`Could not list the models: ${messageOf(error)}`, codeOf(error));
  }
}

function showModels(models: readonly ModelInfo[]): void {
  const previous = ui.model.value;
  ui.model.replaceChildren(
    ...models.map((model) => {
      const option = document.createElement("option");
      option.value = model.id;
      const facts = [model.alias_of ? `= ${model.alias_of}` : "", `${model.context_length} tokens`, model.has_chat_template ? "chat template" : ""];
      option.textContent = `${model.id} (${facts.filter(Boolean).join(", ")})`;
      return option;
    }),
  );
  if (models.some((model) => model.id === previous)) ui.model.value = previous;
}

ui.refreshModels.addEventListener("click", () => void refreshModels());

// ---- defaults ---------------------------------------------------------------------------------

async function loadDefaults(): Promise<void> {
  let doc: DefaultsDocument;
  try {
    const response = await fetch("/playground/defaults.json", { cache: "no-store" });
    if (!response.ok) return;
    doc = (await response.json()) as DefaultsDocument;
  } catch {
    return; // the fields still say "node default"
  }
  const show = (input: HTMLInputElement, value: number | null) => {
    input.placeholder = value === null ? "node default" : `${value} (node default)`;
  };
  show(ui.maxTokens, doc.defaults.max_tokens);
  show(ui.temperature, doc.defaults.temperature);
  show(ui.topP, doc.defaults.top_p);
  show(ui.topK, doc.defaults.top_k);
  if (doc.limits.max_tokens !== null) ui.maxTokens.max = String(doc.limits.max_tokens);
  if (doc.limits.max_prompt_chars !== null) ui.prompt.maxLength = doc.limits.max_prompt_chars;
  if (doc.limits.max_stop_sequences !== null) ui.stop.placeholder = `one per line, at most ${doc.limits.max_stop_sequences}; none by default`;
}

for (const input of [ui.maxTokens, ui.temperature, ui.topP, ui.topK]) input.placeholder = "node default";

// ---- prompt or chat ---------------------------------------------------------------------------

function mode(): "prompt" | "chat" {
  return (ui.form.elements.namedItem("mode") as RadioNodeList).value === "chat" ? "chat" : "prompt";
}

for (const radio of ui.form.querySelectorAll<HTMLInputElement>('input[name="mode"]')) {
  radio.addEventListener("change", () => {
    const chat = mode() === "chat";
    ui.promptPane.hidden = chat;
    ui.chatPane.hidden = !chat;
    if (chat && ui.turns.children.length === 0) addTurn("user", "");
  });
}

function addTurn(role: string, content: string): void {
  const fragment = ui.turnTemplate.content.cloneNode(true) as DocumentFragment;
  const item = fragment.querySelector("li")!;
  const roleSelect = item.querySelector<HTMLSelectElement>("select.role")!;
  roleSelect.value = role;
  item.querySelector<HTMLTextAreaElement>("textarea.content")!.value = content;
  item.querySelector<HTMLButtonElement>("button.remove")!.addEventListener("click", () => {
    item.remove();
    labelTurns();
  });
  ui.turns.append(item);
  labelTurns();
  item.querySelector<HTMLTextAreaElement>("textarea.content")!.focus();
}

/** "Role of turn 2", "Content of turn 2", "Remove turn 2": each control names its turn. */
function labelTurns(): void {
  [...ui.turns.children].forEach((item, index) => {
    item.querySelector("select.role")!.setAttribute("aria-label", `Role of turn ${index + 1}`);
    item.querySelector("textarea.content")!.setAttribute("aria-label", `Content of turn ${index + 1}`);
    item.querySelector("button.remove")!.setAttribute("aria-label", `Remove turn ${index + 1}`);
  });
}

ui.addTurn.addEventListener("click", () => {
  const last = ui.turns.lastElementChild?.querySelector<HTMLSelectElement>("select.role")?.value;
  addTurn(last === "user" ? "assistant" : "user", "");
});

function turns(): ChatTurn[] {
  return [...ui.turns.children].map((item) => ({
    role: item.querySelector<HTMLSelectElement>("select.role")!.value,
    content: item.querySelector<HTMLTextAreaElement>("textarea.content")!.value,
  }));
}

// ---- generation -------------------------------------------------------------------------------

function formValues(): FormValues {
  return {
    model: ui.model.value,
    mode: mode(),
    prompt: ui.prompt.value,
    turns: turns(),
    max_tokens: ui.maxTokens.value,
    temperature: ui.temperature.value,
    top_p: ui.topP.value,
    top_k: ui.topK.value,
    seed: ui.seed.value,
    stop: ui.stop.value,
    json_schema: ui.jsonSchema.value,
    top_logprobs: ui.topLogprobs.value,
  };
}

function setState(state: string, label = state): void {
  ui.state.textContent = label;
  ui.state.dataset.state = state;
}

function showFigures(timer: GenerationTimer): void {
  ui.ttft.textContent = formatMs(timer.timeToFirstTokenMs);
  ui.rate.textContent = formatRate(timer.tokensPerSecond);
  ui.tokens.textContent = String(timer.tokenCount);
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!running) void generate();
});

ui.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) ui.form.requestSubmit();
});

ui.stopButton.addEventListener("click", () => {
  if (!running) return;
  running.abort();
  setState("stopping", "stopping…");
});

async function generate(): Promise<void> {
  clearError();
  const built = buildRequest(formValues());
  if (!built.ok) {
    showError(built.message);
    FIELD_INPUTS[built.field]?.focus();
    return;
  }
  const controller = new AbortController();
  running = controller;
  ui.generate.disabled = true;
  ui.stopButton.disabled = false;
  ui.output.replaceChildren();
  ui.logprobs.replaceChildren();
  ui.logprobs.hidden = true;
  setState("generating", "generating…");
  const timer = new GenerationTimer(performance.now());
  showFigures(timer);
  let frame = 0;
  try {
    const generation = client.generate({ ...built.request, signal: controller.signal } as Parameters<typeof client.generate>[0]);
    for await (const piece of generation) {
      timer.piece(performance.now());
      const stick = ui.output.scrollTop + ui.output.clientHeight >= ui.output.scrollHeight - 4;
      ui.output.append(piece);
      if (stick) ui.output.scrollTop = ui.output.scrollHeight;
      frame ||= requestAnimationFrame(() => {
        frame = 0;
        showFigures(timer);
      });
    }
    const result = await generation;
    timer.finish(performance.now(), result.usage.completion_tokens);
    if (result.logprobs) showLogprobs(result.logprobs);
    setState(result.finishReason);
  } catch (error) {
    setState("error");
    showError(messageOf(error), codeOf(error));
  } finally {
    if (frame) cancelAnimationFrame(frame);
    showFigures(timer);
    running = undefined;
    ui.generate.disabled = false;
    ui.stopButton.disabled = true;
  }
}

/** Each generated token with its probability, and the likeliest alternatives at its position. */
function showLogprobs(entries: readonly TokenLogprobEntry[]): void {
  ui.logprobs.replaceChildren(
    ...entries.map((entry) => {
      const item = document.createElement("li");
      const token = document.createElement("code");
      token.textContent = JSON.stringify(entry.token);
      const chance = document.createElement("span");
      chance.className = "chance";
      chance.textContent = ` ${formatProbability(entry.logprob)}`;
      chance.title = `log probability ${entry.logprob.toFixed(4)}`;
      item.append(token, chance);
      if (entry.top_logprobs.length > 0) {
        const others = document.createElement("span");
        others.className = "alternatives";
        others.textContent = ` — ${entry.top_logprobs.map((alt) => `${JSON.stringify(alt.token)} ${formatProbability(alt.logprob)}`).join(", ")}`;
        item.append(others);
      }
      return item;
    }),
  );
  ui.logprobs.hidden = entries.length === 0;
}

// ---- errors -----------------------------------------------------------------------------------

function codeOf(error: unknown): string | undefined {
  if (typeof error === "string") return error;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function messageOf(error: unknown): string {
  const code = codeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

function showError(message: string, code?: string): void {
  ui.error.textContent = message;
  if (code) ui.error.dataset.code = code;
  else delete ui.error.dataset.code;
}

function clearError(): void {
  ui.error.textContent = "";
  delete ui.error.dataset.code;
}

void loadDefaults();
