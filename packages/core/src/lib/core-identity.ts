/**
 * Which copy of @modelnode/core this is. A plugin that resolved its own copy of core (listed
 * under `dependencies` instead of `peerDependencies`, or a second install) decorates its
 * handlers with that copy's tsyringe, which the node's container cannot build; every copy
 * registers itself here, so createNode can say what happened instead of tsyringe's
 * "TypeInfo not known".
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export interface CoreCopy {
  id: string;
  version: string;
  /** Where this copy's code lives. */
  location: string;
}

const require = createRequire(import.meta.url);
/** This package's version, from its own package.json (dist/src/lib → package root). */
export const CORE_VERSION: string = (require("../../../package.json") as { version: string }).version;

const REGISTRY = Symbol.for("modelnode.core-copies");
const globalRegistry = globalThis as unknown as { [REGISTRY]?: CoreCopy[] };
const copies = (globalRegistry[REGISTRY] ??= []);

const location = fileURLToPath(new URL("../../..", import.meta.url));
export const CORE_COPY_ID = `${CORE_VERSION}@${location}`;
if (!copies.some((c) => c.id === CORE_COPY_ID)) copies.push({ id: CORE_COPY_ID, version: CORE_VERSION, location });

/** Every copy of core loaded in this process, this one included. */
export function loadedCoreCopies(): readonly CoreCopy[] {
  return copies;
}
