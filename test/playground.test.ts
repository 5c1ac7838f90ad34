// The playground in a real browser (Debian's chromium, driven by playwright-core) against the
// example node on real models: the page loads from the node, connects, lists the models, streams
// a generation that grows on screen, and Stop cancels it (inference_cancel through the client's
// AbortSignal); a chat; and the same page over https/wss. Nothing is fetched from elsewhere.
//
// UPDATE_SCREENSHOT=1 also writes docs/playground.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildModel } from "@modelnode/model-builder";
import { hashLicenseKey } from "@modelnode/plugin-auth";
import type { Browser, Page } from "playwright-core";
import { selfSignedCert } from "./support/cert.js";
import { busyFigures, eventually, startNode } from "./support/node.js";
import { REPO_ROOT, TINY_MODEL_DIR } from "./support/paths.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: the playground's browser test needs Debian's chromium (apt-get install chromium; .ci/run installs it)`;

async function launch(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** Collects what would mean a broken page: script errors, console errors, requests to another origin. */
function watch(page: Page, origin: string): string[] {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith(origin.replace(/^http/, "ws")) && !url.startsWith("data:")) problems.push(`request elsewhere: ${url}`);
  });
  return problems;
}

const connection = (page: Page) => page.getByRole("status", { name: "Connection state" });
const generationState = (page: Page) => page.getByRole("status", { name: "Generation", exact: true });
const outputLength = async (page: Page) => ((await page.locator("#output").textContent()) ?? "").length;
/**
 * Waits until the generated text is longer than `n` characters. The predicates run in the page
 * (self-contained, and functions: a string would be eval, which the page's CSP refuses; the test
 * project has no DOM types, hence `globalThis as any`).
 */
const outputLonger = (page: Page, n: number, timeout = 60_000) =>
  page.waitForFunction(({ n }) => (globalThis as any).document.getElementById("output").textContent.length > n, { n }, { timeout });

test("the playground streams a generation in chromium, Stop cancels it, and a chat answers", { skip, timeout: 180_000 }, async (t) => {
  const startedAt = Date.now();
  // ~0.1 s a model run: the generation is surely still running when Stop is pressed.
  const slowDir = join(REPO_ROOT, "models", "slow-tiny-gpt2");
  buildModel({ out: slowDir, model: "slow-tiny-gpt2", ifMissing: true });
  const { node, port } = await startNode({ models: { "tiny-gpt2": TINY_MODEL_DIR, slow: slowDir }, limits: { maxTokens: 1000 } });
  t.after(() => node.close());
  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, colorScheme: "light" });
  const origin = `http://127.0.0.1:${port}`;
  const problems = watch(page, origin);

  await page.goto(`${origin}/`);
  await connection(page).filter({ hasText: /^open$/ }).waitFor({ timeout: 20_000 });
  // The models come from list_models; the sampling fields show the node's defaults, empty.
  await page.locator('#model option[value="slow"]').waitFor({ state: "attached" });
  const models = await Promise.all((await page.locator("#model option").all()).map((option) => option.getAttribute("value")));
  assert.deepEqual(models, ["tiny-gpt2", "slow"]);
  const maxTokens = page.getByLabel("Max tokens");
  await page.waitForFunction(() => (globalThis as any).document.getElementById("max-tokens").placeholder.startsWith("64"));
  assert.equal(await maxTokens.inputValue(), "", "a default is shown, not filled in");
  assert.equal(await maxTokens.getAttribute("max"), "1000");

  await page.getByRole("combobox", { name: "Model" }).selectOption("slow");
  await page.getByRole("textbox", { name: "Prompt" }).fill("A long story:");
  await maxTokens.fill("1000");
  await page.getByRole("button", { name: "Generate" }).click();
  await generationState(page).filter({ hasText: "generating" }).waitFor();

  // The text grows on screen, piece by piece.
  await outputLonger(page, 0);
  const first = await outputLength(page);
  const enough = process.env.UPDATE_SCREENSHOT ? Math.max(first, 400) : first;
  await outputLonger(page, enough);
  assert.match((await page.getByLabel("Time to first token").textContent()) ?? "", /^\d+(\.\d+)? (ms|s)$/);
  assert.equal(node.getStats().inference && (node.getStats().inference as { in_flight: number }).in_flight, 1);

  await page.getByRole("button", { name: "Stop" }).click();
  await generationState(page).filter({ hasText: /^cancelled$/ }).waitFor({ timeout: 30_000 });
  assert.equal(await page.getByRole("button", { name: "Stop" }).isDisabled(), true);
  assert.equal(await page.getByRole("button", { name: "Generate" }).isEnabled(), true);
  const tokens = Number(await page.getByLabel("Tokens", { exact: true }).textContent());
  assert.ok(tokens >= 2 && tokens < 1000, `stopped early: ${tokens} tokens`);
  assert.match((await page.getByLabel("Tokens/s").textContent()) ?? "", /^\d+(\.\d+)?$/);
  // Nothing runs on (the page keeps its connection open).
  await eventually(() => Object.entries(busyFigures(node)).every(([key, n]) => key === "active_connections" || n === 0), () => JSON.stringify(busyFigures(node)));
  const inference = node.getStats().inference as { finish_reasons: Record<string, number>; cancels: number };
  assert.equal(inference.finish_reasons.cancelled, 1, "the node ended it as cancelled");
  assert.equal(inference.cancels, 1, "through inference_cancel");
  assert.equal(await connection(page).textContent(), "open");

  if (process.env.UPDATE_SCREENSHOT) {
    await page.screenshot({ path: join(REPO_ROOT, "docs", "playground.png") });
  }

  // A chat, on the fast model, to its end.
  await page.getByRole("radio", { name: "Chat" }).check();
  await page.getByRole("combobox", { name: "Model" }).selectOption("tiny-gpt2");
  await page.getByRole("textbox", { name: "Content of turn 1" }).fill("What is the capital of France?");
  await maxTokens.fill("5");
  await page.getByRole("button", { name: "Generate" }).click();
  await generationState(page).filter({ hasText: /^length$/ }).waitFor({ timeout: 30_000 });
  assert.equal(await page.getByLabel("Tokens", { exact: true }).textContent(), "5");
  assert.ok((await outputLength(page)) > 0);

  // A field out of range is reported before anything is sent.
  await page.getByLabel("Temperature").fill("3");
  await page.getByRole("button", { name: "Generate" }).click();
  await page.getByRole("alert").filter({ hasText: "Temperature must be" }).waitFor();

  assert.deepEqual(problems, []);
  t.diagnostic(`browser test took ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
});

test("over https the page connects with wss to the same port", { skip, timeout: 120_000 }, async (t) => {
  const cert = selfSignedCert();
  if (!cert) return t.skip("openssl is missing: no certificate for the https node");
  const { node, port } = await startNode({ tls: { certFile: cert.certFile, keyFile: cert.keyFile } });
  t.after(() => node.close());
  const browser = await launch();
  t.after(() => browser.close());
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const origin = `https://127.0.0.1:${port}`;
  const problems = watch(page, origin);
  const sockets: string[] = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));
  await page.goto(`${origin}/`);
  await connection(page).filter({ hasText: /^open$/ }).waitFor({ timeout: 20_000 });
  assert.deepEqual(sockets, [`wss://127.0.0.1:${port}/`]);
  await page.locator('#model option[value="tiny-gpt2"]').waitFor({ state: "attached" });
  assert.deepEqual(problems, []);
});

test("with authentication required the page loads, asks for a license key, and serves once signed in", { skip, timeout: 120_000 }, async (t) => {
  const key = "playground-license-key-0001";
  const { node, port } = await startNode({ auth: { required: true, keyHashes: [hashLicenseKey(key)], secret: "s".repeat(32) } });
  t.after(() => node.close());
  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const origin = `http://127.0.0.1:${port}`;
  const problems = watch(page, origin);
  await page.goto(`${origin}/`);
  await connection(page).filter({ hasText: /^open$/ }).waitFor({ timeout: 20_000 });
  const authState = page.getByRole("status", { name: "Authentication state" });
  await authState.filter({ hasText: "requires a license key" }).waitFor();
  assert.equal(await page.locator("#model option").count(), 0, "no models before signing in");

  await page.getByLabel("License key").fill("not-the-key");
  await page.getByRole("button", { name: "Sign in" }).click();
  await authState.filter({ hasText: /^Not signed in/ }).waitFor();

  await page.getByLabel("License key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await authState.filter({ hasText: /^Signed in/ }).waitFor();
  await page.locator('#model option[value="tiny-gpt2"]').waitFor({ state: "attached" });
  await page.getByRole("textbox", { name: "Prompt" }).fill("Hello");
  await page.getByLabel("Max tokens").fill("3");
  await page.getByRole("button", { name: "Generate" }).click();
  await generationState(page).filter({ hasText: /^length$/ }).waitFor({ timeout: 30_000 });
  assert.deepEqual(problems, []);
});

test("the playground constrains output to a JSON schema and shows each token's probability and alternatives", { skip, timeout: 120_000 }, async (t) => {
  const { node, port } = await startNode({ models: { "tiny-gpt2": TINY_MODEL_DIR } });
  t.after(() => node.close());
  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const origin = `http://127.0.0.1:${port}`;
  const problems = watch(page, origin);
  await page.goto(`${origin}/`);
  await connection(page).filter({ hasText: /^open$/ }).waitFor({ timeout: 20_000 });
  await page.locator('#model option[value="tiny-gpt2"]').waitFor({ state: "attached" });

  const schema = {
    type: "object",
    properties: { color: { enum: ["red", "green", "blue"] }, n: { type: "integer", minimum: 0, maximum: 99 } },
    required: ["color", "n"],
    additionalProperties: false,
  };
  await page.getByRole("textbox", { name: "Prompt" }).fill("A color and a number:");
  await page.getByLabel("Temperature").fill("1");
  await page.getByLabel("Max tokens").fill("60");
  await page.getByLabel("Top log probabilities").fill("2");
  const logprobs = page.getByRole("list", { name: "Token log probabilities" });
  for (const seed of ["1", "2", "3"]) {
    await page.getByLabel("Seed").fill(seed);
    await page.getByRole("textbox", { name: "JSON schema" }).fill(JSON.stringify(schema));
    await page.getByRole("button", { name: "Generate" }).click();
    await generationState(page).filter({ hasText: /^(stop|length|error)$/ }).waitFor({ timeout: 60_000 });
    const state = await generationState(page).textContent();
    if (state !== "stop") assert.fail(`seed ${seed}: ended ${state}; ${await page.locator("#error").textContent()}; output ${await page.locator("#output").textContent()}`);
    const value = JSON.parse((await page.locator("#output").textContent()) ?? "");
    assert.deepEqual(Object.keys(value).sort(), ["color", "n"], `seed ${seed}`);
    assert.ok(schema.properties.color.enum.includes(value.color) && Number.isInteger(value.n) && value.n >= 0 && value.n <= 99, JSON.stringify(value));
    // One line per generated token: its text, its probability, then the two likeliest tokens there.
    const items = await logprobs.getByRole("listitem").allTextContents();
    assert.ok(items.length >= 3, `seed ${seed}: ${items.length} tokens listed`);
    for (const item of items) assert.match(item, /^".*" (\d+(\.\d)?%|<0\.1%) — ".*" (\d+(\.\d)?%|<0\.1%), ".*" (\d+(\.\d)?%|<0\.1%)$/s, item);
    const spelled = (await logprobs.locator("li > code").allTextContents()).map((token) => JSON.parse(token)).join("");
    assert.equal(spelled, await page.locator("#output").textContent(), "the listed tokens spell the output");
  }

  // Text that is not a JSON object is refused in the page, naming the field; a schema the node
  // cannot compile comes back as the node's INVALID_GRAMMAR error.
  await page.getByRole("textbox", { name: "JSON schema" }).fill("{type: object}");
  await page.getByRole("button", { name: "Generate" }).click();
  await page.getByRole("alert").filter({ hasText: "The JSON schema is not JSON" }).waitFor();
  await page.getByRole("textbox", { name: "JSON schema" }).fill(JSON.stringify({ type: "wat" }));
  await page.getByRole("button", { name: "Generate" }).click();
  await page.getByRole("alert").filter({ hasText: "INVALID_GRAMMAR" }).waitFor({ timeout: 30_000 });
  assert.deepEqual(problems, []);
});
