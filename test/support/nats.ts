/** A real nats-server for the scale-out tests, on a free loopback port; and fake pipelines that continue text. */
import { buildModel } from "@modelnode/model-builder";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { COPY_MODEL_DIR } from "./paths.js";
import { freePort } from "./ports.js";

export { freePort };
import { FakePipeline } from "@modelnode/testing";
import type { GenerateRequest, GenerationEvent } from "@modelnode/core/pipeline";

export const NATS_SERVER = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"].find(
  (p) => spawnSync(p, ["--version"]).status === 0,
);
/** For `test(..., { skip })`: a clear reason when nats-server is missing. */
export const skipWithoutNats = NATS_SERVER ? false : "nats-server is not installed (apt-get install nats-server)";


export interface NatsServer {
  url: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** A nats-server on `port` (default: a free one); `args`: more flags (a cluster's -cluster/-routes). */
export async function startNatsServer(port?: number, args: string[] = []): Promise<NatsServer> {
  const p = port ?? (await freePort());
  const proc = spawn(NATS_SERVER!, ["-a", "127.0.0.1", "-p", String(p), ...args], { stdio: ["ignore", "ignore", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`nats-server did not start: ${log}`)), 10_000);
    proc.stderr!.on("data", (d) => {
      log += String(d);
      if (log.includes("Server is ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.on("exit", (code) => reject(new Error(`nats-server exited ${code}: ${log}`)));
  });
  proc.stderr!.resume();
  return {
    url: `nats://127.0.0.1:${p}`,
    port: p,
    proc,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGKILL");
      }),
  };
}

/** The scale-out tests' worker processes: a fake model, or the real tiny ONNX model served as "tiny" (and a copy-friendly one as "copy"). */
export const FAKE_WORKER = fileURLToPath(new URL("./nats-worker.js", import.meta.url));
export const ONNX_WORKER = fileURLToPath(new URL("./nats-onnx-worker.js", import.meta.url));

/** Starts `node <script> <nats url> <name>` and resolves once it prints that it is ready. */
export function spawnWorker(url: string, name: string, env: Record<string, string> = {}, script = FAKE_WORKER): Promise<ChildProcess> {
  // The ONNX worker serves the copy-friendly model too: built here once, not by every worker at once.
  if (script === ONNX_WORKER) buildModel({ out: COPY_MODEL_DIR, model: "copy-tiny-gpt2", ifMissing: true });
  const child = spawn(process.execPath, [script, url, name], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    child.stdout!.once("data", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`worker ${name} exited ${code}`)));
  });
}

/**
 * A FakePipeline that behaves like a greedy model continuing its context: the output depends on
 * the prompt, not only on the position in this call. A prompt ending in "w0 w1 … wk-1 " continues
 * with "wk ". So a resumed request (prompt + delivered text) gives exactly the rest of an
 * undisturbed run, and a resume that started at the wrong place (duplicated or missing pieces)
 * shows in the text. Each piece "wk " reports token id k, and a `resume` (GenerateRequest.resume,
 * what the gateway sends when pieces came with ids) continues after its generatedIds.length words.
 */
export class ContinuingFake extends FakePipeline {
  static startOf(prompt: string): number {
    const tail = /(?:w\d+ )+$/.exec(prompt)?.[0] ?? "";
    const words = tail.trim().split(" ").filter(Boolean);
    // Only a run w0 w1 … counts (the words must be numbered from 0 in order).
    let k = 0;
    for (let i = words.length - 1, expectFrom = -1; i >= 0; i--) {
      const n = Number(words[i].slice(1));
      if (expectFrom === -1 || n === expectFrom - 1) {
        expectFrom = n;
        if (n === 0) {
          k = words.length - i;
          break;
        }
      } else break;
    }
    return k;
  }
  /** Requests that came with a `resume`. */
  resumes: NonNullable<GenerateRequest["resume"]>[] = [];
  override async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    const resumed = request.resume?.generatedIds.length ?? 0;
    if (request.resume) this.resumes.push(request.resume);
    const start = resumed > 0 ? resumed : request.prompt !== undefined ? ContinuingFake.startOf(request.prompt) : 0;
    let text = resumed > 0 ? expectedText(resumed) : "";
    const inner: GenerateRequest = { ...request, resume: undefined };
    if (resumed > 0 && request.maxTokens !== undefined) {
      inner.maxTokens = request.maxTokens - resumed;
      if (inner.maxTokens <= 0) {
        const promptTokens = await this.countTokens(request.modelId, FakePipeline.promptOf(request));
        yield { kind: "done", result: { text, finishReason: "length", usage: { promptTokens, completionTokens: resumed } } };
        return;
      }
    }
    for await (const event of super.stream(inner)) {
      if (event.kind === "text") {
        let k = -1;
        const piece = event.text.replace(/^w(\d+) /, (_m, n) => `w${(k = Number(n) + start)} `);
        text += piece;
        yield k >= 0 ? { kind: "text", text: piece, tokenIds: [k] } : { kind: "text", text: piece };
      } else {
        const usage = { ...event.result.usage, completionTokens: event.result.usage.completionTokens + resumed };
        yield { kind: "done", result: { ...event.result, text, usage } };
      }
    }
  }
}

/** The text an undisturbed run of ContinuingFake gives for `maxTokens` pieces from a fresh prompt. */
export const expectedText = (maxTokens: number) => Array.from({ length: maxTokens }, (_, i) => `w${i} `).join("");
