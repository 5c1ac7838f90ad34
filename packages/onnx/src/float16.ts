/**
 * Only for src/model-builder/, which imports "../float16.js" and is moving to a package of its own:
 * delete this file once it has gone. The pipeline's threads use shared/float16.ts.
 */
export * from "./shared/float16.js";
