/**
 * Preloaded into the example CLI (`node --import …/induce-faults.js cli.js`) by the process-fault
 * tests: on SIGUSR2 it causes the fault named by MODELNODE_TEST_FAULT, from outside any request,
 * the way a bug in background work would.
 */
process.on("SIGUSR2", () => {
  const fault = process.env.MODELNODE_TEST_FAULT;
  if (fault === "rejection") void Promise.reject(new Error("induced unhandled rejection"));
  if (fault === "exception") {
    setImmediate(() => {
      throw new Error("induced uncaught exception");
    });
  }
});
export {};
