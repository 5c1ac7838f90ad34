/** The example node's real command line in a child process, with its output captured. */
import { spawn, type ChildProcess } from "node:child_process";
import { CLI_PATH } from "./paths.js";

export interface CliRun {
  child: ChildProcess;
  /** The ws:// or wss:// URL the CLI printed once listening. */
  url: Promise<string>;
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr matches. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export function startCli(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): CliRun {
  const child = spawn(process.execPath, [...nodeArgs, CLI_PATH, "--port", "0", "--host", "127.0.0.1", ...args], {
    env: { ...process.env, MODELNODE_LOG_LEVEL: "silent", ...env },
  });
  let stdout = "";
  let stderr = "";
  const watchers: (() => void)[] = [];
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => {
    stderr += d;
    for (const watch of [...watchers]) watch();
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const waitForStderr = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`cli stderr never matched ${pattern}: ${stderr}`)), timeoutMs);
      const watch = () => {
        if (!pattern.test(stderr)) return;
        clearTimeout(timer);
        watchers.splice(watchers.indexOf(watch), 1);
        resolve();
      };
      watchers.push(watch);
      watch();
      exited.then(() => {
        clearTimeout(timer);
        if (!pattern.test(stderr)) reject(new Error(`cli exited before stderr matched ${pattern}: ${stderr}`));
      });
    });
  const url = waitForStderr(/listening on wss?:\/\/\S+/).then(() => /listening on (wss?:\/\/\S+)/.exec(stderr)![1]);
  url.catch(() => {});
  return { child, url, exited, stdout: () => stdout, stderr: () => stderr, waitForStderr };
}
