/**
 * Preloaded (`node --import`) into a server the dispatch bench did not write itself (the example
 * node's CLI): answers the bench's IPC questions about the process's CPU time, as
 * dispatch-server.ts does for its own servers. "reset" starts a measurement, "read" reports the
 * user + system microseconds since, "exit" ends the process.
 */
let mark = process.cpuUsage();
process.on("message", (msg: unknown) => {
  if (msg === "reset") {
    mark = process.cpuUsage();
    process.send!({ reset: true });
  } else if (msg === "read") {
    const used = process.cpuUsage(mark);
    process.send!({ cpuMicros: used.user + used.system });
  } else if (msg === "exit") {
    process.exit(0);
  }
});
