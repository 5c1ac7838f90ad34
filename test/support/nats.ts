/** A real nats-server for the scale-out tests, on a free loopback port; and fake pipelines that continue text. */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { FakePipeline } from "@modelnode/testing";
import type { GenerateRequest, GenerationEvent } from "@modelnode/core/pipeline";

export const NATS_SERVER = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"].find(
  (p) => spawnSync(p, ["--version"]).status === 0,
);
/** For `test(..., { skip })`: a clear reason when nats-server is missing. */
export const skipWithoutNats = NATS_SERVER ? false : "nats-server is not installed (apt-get install nats-server)";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export interface NatsServer {
  url: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export async function startNatsServer(port?: number): Promise<NatsServer> {
  const p = port ?? (await freePort());
  const proc = spawn(NATS_SERVER!, ["-a", "127.0.0.1", "-p", String(p)], { stdio: ["ignore", "ignore", "pipe"] });
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

/**
 * A FakePipeline that behaves like a greedy model continuing its context: the output depends on
 * the prompt, not only on the position in this call. A prompt ending in "w0 w1 … wk-1 " continues
 * with "wk ". So a resumed request (prompt + delivered text) gives exactly the rest of an
 * undisturbed run, and a resume that started at the wrong place (duplicated or missing pieces)
 * shows in the text.
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
  override async *stream(request: GenerateRequest): AsyncIterable<GenerationEvent> {
    const start = request.prompt !== undefined ? ContinuingFake.startOf(request.prompt) : 0;
    let text = "";
    for await (const event of super.stream(request)) {
      if (event.kind === "text") {
        const piece = event.text.replace(/^w(\d+) /, (_m, n) => `w${Number(n) + start} `);
        text += piece;
        yield { kind: "text", text: piece };
      } else yield { kind: "done", result: { ...event.result, text } };
    }
  }
}

/** The text an undisturbed run of ContinuingFake gives for `maxTokens` pieces from a fresh prompt. */
export const expectedText = (maxTokens: number) => Array.from({ length: maxTokens }, (_, i) => `w${i} `).join("");
