/** A port free on loopback right now (the OS picks it; closed again before it is returned). */
import { createServer } from "node:net";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether `port` can be bound on loopback right now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive ports free on loopback now, not among `avoid` (for a script
 * that takes a base port: `npm run cluster`'s --nats-port Q gives Q, Q+1, ...). Free, not reserved.
 */
export async function freePortRun(count: number, avoid: number[] = []): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const run = Array.from({ length: count }, (_, i) => base + i);
    if (run.some((p) => avoid.includes(p))) continue;
    if ((await Promise.all(run.map(bindable))).every(Boolean)) return base;
  }
}
