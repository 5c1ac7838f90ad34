/** `org/name[:dtype]`, the way `modelnode pull` and pullModel take a model. */
import { HubPullError } from "./errors.js";
import { PULL_DTYPES, type PullDtype } from "./dtype-files.js";

/** The Hub's repository names: letters, digits, `-`, `_`, `.`; an optional owner before one `/`. */
const REPO_ID = /^(?:[A-Za-z0-9][\w.-]{0,95}\/)?[A-Za-z0-9][\w.-]{0,95}$/;

export interface ModelRef {
  id: string;
  dtype?: PullDtype;
}

/** Parses `org/name` or `org/name:q8`; a bad id or an unknown dtype is an `invalid-argument` error. */
export function parseModelRef(text: string): ModelRef {
  const colon = text.lastIndexOf(":");
  const id = colon >= 0 ? text.slice(0, colon) : text;
  const dtype = colon >= 0 ? text.slice(colon + 1) : undefined;
  checkRepoId(id);
  if (dtype !== undefined) checkDtype(dtype);
  return { id, dtype: dtype as PullDtype | undefined };
}

export function checkRepoId(id: string): void {
  if (!REPO_ID.test(id) || id.split("/").some((part) => part.includes(".."))) {
    throw new HubPullError("invalid-argument", `model id "${id}": expected a Hub repository id such as "onnx-community/Qwen3-0.6B-ONNX" (letters, digits, "-", "_", ".")`);
  }
}

export function checkDtype(dtype: string): asserts dtype is PullDtype {
  if (!(PULL_DTYPES as string[]).includes(dtype)) {
    throw new HubPullError("invalid-argument", `dtype "${dtype}": expected one of ${PULL_DTYPES.join(", ")}`);
  }
}

/** A path from the Hub's file list, checked before it becomes a path under the model folder. */
export function checkRepoPath(path: string): void {
  if (path === "" || path.startsWith("/") || path.includes("\\") || path.split("/").some((part) => part === ".." || part === "." || part === "")) {
    throw new HubPullError("bad-response", `the Hub listed a file named "${path}", which is not a plain relative path; refusing to write it`);
  }
}
