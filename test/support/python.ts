/** The Python the guide's clients (and docs/client.md's examples) run with. */
import { execFileSync } from "node:child_process";

/** The first of $PYTHON, python3, /usr/bin/python3 that can import websockets (pyenv's python3 may not; Debian's does with python3-websockets). */
export function findPython(): string | undefined {
  const candidates = [process.env.PYTHON, "python3", "/usr/bin/python3"].filter((c): c is string => !!c);
  for (const python of candidates) {
    try {
      execFileSync(python, ["-c", "import websockets"], { stdio: "ignore" });
      return python;
    } catch {
      // not installed, or without websockets
    }
  }
  return undefined;
}
