/**
 * Secured NATS (docs/scale-out.md, "Security"): for user/password and a token (NKeys and operator
 * mode: nats-security-nkeys.test.ts), a nats-server configured for it, and the example
 * node's real processes — a worker and a gateway (`--role`) connecting with that mode through its
 * flags, environment variables or config file — serving one generation end to end over the OpenAI
 * API. A worker with wrong credentials ends at startup, non-zero, with a message naming the NATS
 * server and "authorization violation", never a hang; no secret is printed. TLS and the other
 * refusals: nats-security-tls.test.ts.
 */
import { describe, test } from "node:test";
import { skipWithoutNats } from "./support/nats.js";
import { secretFile } from "./support/nats-secure.js";
import { endToEnd } from "./support/nats-secure-e2e.js";

describe("secured NATS: gateway and worker processes", { skip: skipWithoutNats, timeout: 170_000 }, () => {
  test("user and password (worker: environment; gateway: flags)", async () => {
    await endToEnd({
      server: `authorization { user: modelnode, password: "pw-3f9a81" }`,
      worker: { args: [], env: { MODELNODE_NATS_USER: "modelnode", MODELNODE_NATS_PASS: "pw-3f9a81" } },
      gateway: { args: ["--nats-user", "modelnode", "--nats-pass", "pw-3f9a81"] },
      wrong: { args: ["--nats-user", "modelnode"], env: { MODELNODE_NATS_PASS: "pw-wrong77" }, says: /authorization violation/ },
      secrets: ["pw-3f9a81", "pw-wrong77"],
    });
  });

  test("token (worker: config file; gateway: environment)", async () => {
    const config = secretFile("model-node.json", JSON.stringify({ natsAuth: { token: "tok-8d1c22" } }));
    await endToEnd({
      server: `authorization { token: "tok-8d1c22" }`,
      worker: { args: ["--config", config] },
      gateway: { args: [], env: { MODELNODE_NATS_TOKEN: "tok-8d1c22" } },
      wrong: { args: ["--nats-token", "tok-wrong55"], says: /authorization violation/ },
      secrets: ["tok-8d1c22", "tok-wrong55"],
    });
  });
});
