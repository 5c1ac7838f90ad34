/**
 * Answers the dispatch bench's IPC questions about a server process's CPU time: preloaded
 * (`node --import`) into the example node's CLI, imported by dispatch-server.ts for the bench's
 * own servers. "reset" starts a measurement, "read" reports the user + system microseconds since,
 * "exit" ends the process.
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
