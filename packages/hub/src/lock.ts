/**
 * One pull per model folder at a time: two processes writing the same `.part` would corrupt it.
 * The lock is a file holding the pulling process's id, created exclusively; one left by a process
 * that is gone is taken over.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HubPullError } from "./errors.js";

export const LOCK_FILE = ".modelnode-pull.lock";

export function lockModelDir(dir: string, id: string): () => void {
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(readFileSync(file, "utf8"));
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new HubPullError("locked", `${id}: another pull (process ${holder}) is writing ${dir}; wait for it, or delete ${file} if that process is not a pull`);
      }
      if (holder === process.pid) {
        throw new HubPullError("locked", `${id}: this process is already pulling into ${dir}`);
      }
      rmSync(file, { force: true }); // its process is gone
    }
  }
  throw new HubPullError("locked", `${id}: could not take ${file}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
