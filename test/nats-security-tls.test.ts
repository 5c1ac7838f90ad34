/**
 * Secured NATS over TLS (docs/scale-out.md, "Security"): mutual TLS with certificates made in
 * JavaScript (a CA, the server's, a client's), end to end with the example node's worker and
 * gateway processes; and what is refused at startup — a client without a certificate the server
 * trusts (the TLS error, not a time-out), a CA that did not sign the server's certificate, TLS
 * settings against a server without TLS, a
 * gateway with the wrong password (non-zero exit, the server named, the password never printed),
 * and an invalid setting (a config error naming the field).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { skipWithoutNats, startNatsServer } from "./support/nats.js";
import { makePki, secretFile, startConfiguredNatsServer, tlsBlock } from "./support/nats-secure.js";
import { endToEnd, exitOrHang, servers, start } from "./support/nats-secure-e2e.js";

describe("secured NATS: mutual TLS", { skip: skipWithoutNats, timeout: 120_000 }, () => {
  test("mutual TLS: the server verifies client certificates; a client with none is refused with the TLS error", async () => {
    const pki = await makePki();
    const tls = ["--nats-tls-ca", pki.caFile, "--nats-tls-cert", pki.clientCertFile, "--nats-tls-key", pki.clientKeyFile];
    const config = secretFile("model-node.json", JSON.stringify({ natsTls: { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile } }));
    await endToEnd({
      server: tlsBlock(pki, true),
      worker: { args: tls },
      gateway: { args: ["--config", config] },
      wrong: { args: ["--nats-tls-ca", pki.caFile], says: /TLS error: .*(bad certificate|certificate required)/ },
      secrets: [],
    });
  });
});

// Independent processes: run together (each mostly waits for its process to start).
describe("secured NATS: refused at startup", { skip: skipWithoutNats, timeout: 120_000, concurrency: true }, () => {
  test("a gateway with the wrong password exits non-zero naming the server, without printing the password", async () => {
    const server = await startConfiguredNatsServer(`authorization { user: modelnode, password: "pw-3f9a81" }`);
    servers.push(server);
    const gateway = start(["--role", "gateway", "--nats", server.url, "--nats-user", "modelnode"], { MODELNODE_NATS_PASS: "pw-oops12" });
    const code = await exitOrHang(gateway);
    assert.ok(code !== "hang" && code !== 0, `exit code ${String(code)}: ${gateway.stderr()}`);
    assert.match(gateway.stderr(), new RegExp(`NATS server nats://127\\.0\\.0\\.1:${server.port}: authorization violation`));
    assert.ok(!(gateway.stderr() + gateway.stdout()).includes("pw-oops12"));
  });

  test("a CA that did not sign the server's certificate: the TLS error, and which file to check", async () => {
    const pki = await makePki();
    const server = await startConfiguredNatsServer(tlsBlock(pki, false));
    servers.push(server);
    const worker = start(["--role", "worker", "--nats", server.url, "--nats-tls-ca", pki.otherCaFile]);
    const code = await exitOrHang(worker);
    assert.ok(code !== "hang" && code !== 0, `exit code ${String(code)}: ${worker.stderr()}`);
    assert.match(worker.stderr(), /NATS server nats:\/\/127\.0\.0\.1:\d+: TLS error: unable to verify the first certificate \(the CA file/);
  });

  test("TLS settings against a server without TLS: refused, not sent in clear", async () => {
    const pki = await makePki();
    const server = await startNatsServer();
    servers.push(server);
    const worker = start(["--role", "worker", "--nats", server.url, "--nats-tls-ca", pki.caFile]);
    const code = await exitOrHang(worker);
    assert.ok(code !== "hang" && code !== 0, `exit code ${String(code)}: ${worker.stderr()}`);
    assert.match(worker.stderr(), /NATS server nats:\/\/127\.0\.0\.1:\d+: TLS error: server does not support 'tls'/);
  });

  test("an invalid setting is a config error naming the field and its source, exit 2 (the rules: examples/model-node/test/nats-config.test.ts)", async () => {
    const run = start(["--role", "worker", "--nats", "nats://127.0.0.1:1", "--nats-creds", "/nonexistent/user.creds"]);
    assert.equal(await run.exited, 2, run.stderr());
    assert.match(run.stderr(), /natsAuth\.credsFile: file not found: \/nonexistent\/user\.creds \(from --nats-creds\)/);
  });
});
