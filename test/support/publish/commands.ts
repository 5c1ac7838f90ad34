/**
 * Running the tools of the publishing path (npm, tar, tsc, node) as a user would from a
 * shell: no npm_* variables inherited from the `npm test` that started us, a time limit, and
 * the whole output in the error when a command fails.
 */
import { spawn } from "node:child_process";
import { REPO_ROOT } from "../paths.js";

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The environment of a user's shell: ours without what npm/pnpm set for the script that runs the tests. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_|^pnpm_/i.test(key)) env[key] = value;
  return { ...env, ...extra };
}

/** Runs a command to its end; rejects (with its output) on a non-zero exit unless `allowFailure`. */
export function run(
  cmd: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; allowFailure?: boolean },
): Promise<CommandResult> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? userEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const result = { code, signal, stdout, stderr, ms: Math.round(performance.now() - started) };
      if (code === 0 || options.allowFailure) return resolve(result);
      const why = signal === "SIGKILL" ? `killed after ${timeoutMs} ms` : `exit ${code}${signal ? ` (${signal})` : ""}`;
      reject(new Error(`${cmd} ${args.join(" ")} (in ${options.cwd}): ${why}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    });
  });
}

/** The file npm/pnpm pack names a package's tarball. */
export function tarballName(name: string, version: string): string {
  return `${name.replace(/^@/, "").replace("/", "-")}-${version}.tgz`;
}

/** The paths in a tarball (directories left out). */
export async function tarEntries(tarball: string): Promise<string[]> {
  const { stdout } = await run("tar", ["-tzf", tarball], { cwd: REPO_ROOT });
  return stdout.split("\n").filter((line) => line !== "" && !line.endsWith("/"));
}

/** One file of a tarball, as text. */
export async function tarFile(tarball: string, path: string): Promise<string> {
  return (await run("tar", ["-xOzf", tarball, path], { cwd: REPO_ROOT })).stdout;
}
