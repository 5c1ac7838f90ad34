// Transport security of the example node: wss:// when a certificate and key are configured
// (through createModelNode and through the CLI's flags), the allowed-origins check, and no
// license key, key hash or license_hash in logs or error messages, even at trace level.
import { test } from "node:test";
import assert from "node:assert/strict";
import { get as httpsGet } from "node:https";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type LoadedConfig } from "@modelnode/example-model-node";
import { hashLicenseKey } from "@modelnode/plugin-auth";
import { selfSignedCert } from "./support/cert.js";
import { TestClient, header, upgradeOutcome } from "@modelnode/testing";
import { startCli } from "./support/cli.js";
import { startNode } from "./support/node.js";

const cert = selfSignedCert();
const NO_OPENSSL = cert ? false : "openssl not found: TLS tests skipped";

test("wss: with tls.certFile/keyFile the node speaks TLS only (WebSocket and /health)", { skip: NO_OPENSSL }, async (t) => {
  const { node, url, port } = await startNode({ tls: { certFile: cert!.certFile, keyFile: cert!.keyFile } });
  t.after(() => node.close());
  assert.match(url, /^wss:/);
  const client = await TestClient.connect(url, { ca: cert!.cert });
  assert.equal((await client.call("heartbeat", { worker_id: "tls" })).header.message_type, "heartbeat_ack");
  await client.close();
  await assert.rejects(TestClient.connect(`ws://127.0.0.1:${port}`), "plain ws:// is not served on a TLS port");
  await assert.rejects(TestClient.connect(url), /self[- ]signed/, "the client checks the certificate");
  const health = await new Promise<string>((resolve, reject) =>
    httpsGet(`https://127.0.0.1:${port}/health`, { ca: cert!.cert }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d)).on("end", () => resolve(body));
    }).on("error", reject),
  );
  assert.deepEqual(JSON.parse(health), { status: "healthy" });
});

test("wss from the CLI: --tls-cert/--tls-key, and it prints a wss:// URL; an unreadable key file is a config error (exit 2)", { skip: NO_OPENSSL }, async (t) => {
  const cli = startCli(["--tls-cert", cert!.certFile, "--tls-key", cert!.keyFile]);
  t.after(() => cli.child.kill("SIGKILL"));
  const url = await cli.url;
  assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+$/);
  const client = await TestClient.connect(url, { ca: cert!.cert });
  assert.equal((await client.call("heartbeat", { worker_id: "tls" })).header.message_type, "heartbeat_ack");
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);

  const bad = startCli(["--tls-cert", cert!.certFile, "--tls-key", "/nonexistent/key.pem"]);
  assert.equal(await bad.exited, 2);
  assert.match(bad.stderr(), /tls\.keyFile: cannot read \/nonexistent\/key\.pem: ENOENT/);
});

test("allowedOrigins: other origins (and none) get 403 at the upgrade; listed ones connect; \"\" admits clients without Origin", async (t) => {
  const strict = await startNode({ allowedOrigins: ["https://app.example"] });
  t.after(() => strict.node.close());
  assert.equal(await upgradeOutcome(strict.url, { origin: "https://evil.example" }), 403);
  assert.equal(await upgradeOutcome(strict.url), 403, "no Origin header");
  assert.equal(await upgradeOutcome(strict.url, { origin: "https://app.example" }), "open");
  const lenient = await startNode({ allowedOrigins: ["https://app.example", ""] });
  t.after(() => lenient.node.close());
  assert.equal(await upgradeOutcome(lenient.url), "open");
  assert.equal(await upgradeOutcome(lenient.url, { origin: "https://evil.example" }), 403);
  assert.equal(strict.node.getStats().total_connections, 1, "refused upgrades never became connections");
});

test("secrets stay out of logs and replies: license keys, key hashes, license_hashes and the secret (CLI at trace level)", async (t) => {
  const key = "LICENSE-KEY-do-not-log-91c2";
  const wrong = "WRONG-KEY-do-not-log-5e77";
  const secret = "SECRET-do-not-log-".padEnd(40, "x");
  const keyHash = hashLicenseKey(key);
  const cli = startCli(["--auth", "--log-level", "trace"], { MODELNODE_AUTH_KEY_HASHES: keyHash, MODELNODE_AUTH_SECRET: secret });
  t.after(() => cli.child.kill("SIGKILL"));
  const client = await TestClient.connect(await cli.url);
  const replies: unknown[] = [];
  const call = async (message: unknown) => {
    const reply = await client.request(message);
    replies.push(reply);
    return reply;
  };
  assert.equal((await call({ header: header("authentication"), license_key: wrong })).authenticated, false);
  const ok = await call({ header: header("authentication"), license_key: key });
  assert.equal(ok.authenticated, true);
  const other = await TestClient.connect(await cli.url);
  for (const hash of [ok.license_hash, `${ok.license_hash}x`, keyHash]) {
    const reply = await other.request({ header: header("list_models", undefined, { license_hash: hash }) });
    replies.push(reply);
  }
  await call({ header: header("inference_request", undefined, { license_hash: ok.license_hash }), model_id: "tiny-gpt2", prompt: "Hi", max_tokens: 2 });
  await Promise.all([client.close(), other.close()]);
  cli.child.kill("SIGTERM");
  assert.equal(await cli.exited, 0);

  const logs = cli.stdout() + cli.stderr();
  assert.ok(logs.split("\n").length > 10, "trace logging was on");
  const secrets = { key, wrong, secret, keyHashHex: keyHash.slice("sha256:".length), licenseHash: ok.license_hash.slice("lh1.".length) };
  for (const [name, value] of Object.entries(secrets)) {
    assert.ok(!logs.includes(value), `${name} appears in the logs`);
  }
  // Replies name no secret except the license_hash issued to its owner.
  const shown = JSON.stringify(replies.filter((r) => r !== ok));
  for (const [name, value] of Object.entries({ key, wrong, secret, keyHashHex: secrets.keyHashHex })) {
    assert.ok(!shown.includes(value), `${name} appears in a reply`);
  }
});

test("config: TLS files and allowed origins from the environment (relative to the working directory) or a file (relative to it)", () => {
  const fromEnv = loadConfig({
    env: { MODELNODE_TLS_CERT: "tls/cert.pem", MODELNODE_TLS_KEY: "/etc/key.pem", MODELNODE_ALLOWED_ORIGINS: "https://a.example, https://b.example" },
    cwd: "/srv/node",
  }) as LoadedConfig;
  assert.deepEqual(fromEnv.config.tls, { certFile: "/srv/node/tls/cert.pem", keyFile: "/etc/key.pem" });
  assert.deepEqual(fromEnv.config.allowedOrigins, ["https://a.example", "https://b.example"]);
  const dir = mkdtempSync(join(tmpdir(), "modelnode-tls-config-"));
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify({ tls: { certFile: "cert.pem", keyFile: "key.pem" }, pingIntervalMs: 1000, limits: { sendHighWaterMark: 4096 } }));
  const fromFile = loadConfig({ argv: ["--config", file], env: {} }) as LoadedConfig;
  assert.deepEqual(fromFile.config.tls, { certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem") });
  assert.equal(fromFile.config.pingIntervalMs, 1000);
  assert.equal(fromFile.config.limits.sendHighWaterMark, 4096);
  assert.throws(() => loadConfig({ argv: ["--tls-cert", "c.pem"], env: {} }), /tls\.keyFile/, "a certificate needs its key");
});
