/**
 * Secured NATS with NKeys (docs/scale-out.md, "Security"): an NKey seed file, and operator mode
 * with a .creds file (operator → account → user JWTs made in the test with @nats-io/jwt, the
 * account preloaded in the server's memory resolver). Each against a nats-server configured for
 * it, with the example node's worker and gateway processes serving one generation end to end; a
 * worker with a key or JWT the server does not know exits at startup naming the server and
 * "authorization violation". User/password and token: nats-security.test.ts.
 */
import { describe, test } from "node:test";
import { skipWithoutNats } from "./support/nats.js";
import { makeNkeyUser, makeOperatorChain } from "./support/nats-secure.js";
import { endToEnd } from "./support/nats-secure-e2e.js";

describe("secured NATS with NKeys: gateway and worker processes", { skip: skipWithoutNats, timeout: 170_000 }, () => {
  test("NKey seed file", async () => {
    const user = makeNkeyUser();
    const stranger = makeNkeyUser();
    await endToEnd({
      server: `authorization { users = [ { nkey: ${user.publicKey} } ] }`,
      worker: { args: ["--nats-nkey-seed", user.seedFile] },
      gateway: { args: [], env: { MODELNODE_NATS_NKEY_SEED: user.seedFile } },
      wrong: { args: ["--nats-nkey-seed", stranger.seedFile], says: /authorization violation/ },
      secrets: [],
    });
  });

  test("operator mode: a .creds file (user JWT signed by the server's account, memory resolver)", async () => {
    const chain = await makeOperatorChain();
    await endToEnd({
      server: chain.serverConfig,
      worker: { args: ["--nats-creds", chain.credsFile] },
      gateway: { args: [], env: { MODELNODE_NATS_CREDS: chain.credsFile } },
      wrong: { args: ["--nats-creds", chain.foreignCredsFile], says: /authorization violation/ },
      secrets: [],
    });
  });
});
