/**
 * Only for src/model-builder/, which imports "../random.js" and is moving to a package of its own:
 * delete this file once it has gone. The pipeline's threads use shared/random.ts.
 */
export * from "./shared/random.js";
