/** A cluster of real nats-servers on loopback (-cluster/-routes), for the NATS-server-failure tests. */
import { freePort, startNatsServer, type NatsServer } from "./nats.js";
import { sleep } from "@modelnode/testing";

export interface ClusterMember extends NatsServer {
  /** The monitoring port (/routez). */
  monitor: number;
  /** Restarts it on the same ports (after stop). */
  restart(): Promise<ClusterMember>;
}

/** `size` nats-servers routed to each other, resolved once every one has a route to every other. */
export async function startNatsCluster(size: number): Promise<ClusterMember[]> {
  // freePort's ports are free when it returns, not reserved: asked for together, two may be the
  // same (a route port shared with a client port leaves that server out of the cluster). Ask again until all differ.
  let ports: { client: number; route: number; monitor: number }[];
  do {
    ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort(), monitor: await freePort() })));
  } while (new Set(ports.flatMap((p) => [p.client, p.route, p.monitor])).size !== size * 3);
  const routes = (i: number) => ports.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p.route}`).join(",");
  const start = async (i: number): Promise<ClusterMember> => {
    const p = ports[i];
    const args = ["-m", String(p.monitor), "--cluster_name", "mn", "--cluster", `nats://127.0.0.1:${p.route}`, "--routes", routes(i)];
    const server = await startNatsServer(p.client, args);
    return { ...server, monitor: p.monitor, restart: () => start(i) };
  };
  const members = await Promise.all(ports.map((_, i) => start(i)));
  await waitForRoutes(members, size - 1);
  return members;
}

/** Waits until each member has `n` routes (its /routez), for at most 10 s. */
export async function waitForRoutes(members: ClusterMember[], n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const counts = await Promise.all(members.map(async (m) => {
      try {
        return ((await (await fetch(`http://127.0.0.1:${m.monitor}/routez`)).json()) as { num_routes: number }).num_routes;
      } catch {
        return 0;
      }
    }));
    if (counts.every((c) => c >= n)) return;
    if (Date.now() > deadline) throw new Error(`routes not established: ${counts}`);
    await sleep(100);
  }
}

/** The names of the client connections a member (any nats-server with its monitoring port, e.g. one `npm run cluster` started) holds now (its /connz); none when it does not answer. */
export async function connectionNames(member: { monitor: number }): Promise<string[]> {
  try {
    const body = (await (await fetch(`http://127.0.0.1:${member.monitor}/connz?limit=1024`)).json()) as { connections?: { name?: string }[] };
    return (body.connections ?? []).map((c) => c.name ?? "");
  } catch {
    return [];
  }
}
