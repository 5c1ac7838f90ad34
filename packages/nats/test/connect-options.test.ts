/** connect-options.ts without a server: what the client is given, and the errors an operator reads. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import { describeConnectError, redactServers, securityOptions } from "../src/connect-options.js";

const dir = mkdtempSync(join(tmpdir(), "nats-connect-options-"));

test("URLs lose their user info (user:pass@, token@) wherever they are shown", () => {
  assert.equal(redactServers("nats://u:secret@10.0.0.5:4222, tls://tok@h:4222,nats://h2:4222"), "nats://***@10.0.0.5:4222, tls://***@h:4222, nats://h2:4222");
  assert.equal(redactServers(["nats://h:4222"]), "nats://h:4222");
});

test("each way to authenticate becomes the client's option; a seed file gives an authenticator that signs the nonce", () => {
  assert.deepEqual(securityOptions({ user: "u", pass: "p" }, undefined), { user: "u", pass: "p" });
  assert.deepEqual(securityOptions({ token: "t" }, undefined), { token: "t" });
  const seedFile = join(dir, "user.nk");
  const user = createUser();
  writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`);
  const { authenticator } = securityOptions({ nkeySeedFile: seedFile }, undefined);
  const auth = (authenticator as (nonce?: string) => { nkey: string; sig: string })("nonce");
  assert.equal(auth.nkey, user.getPublicKey());
  assert.ok(user.verify(new TextEncoder().encode("nonce"), Buffer.from(auth.sig, "base64url")));
});

test("TLS: the file names go to the client; a missing file or a certificate without its key is a clear error", () => {
  const ca = join(dir, "ca.pem");
  writeFileSync(ca, "x");
  assert.deepEqual(securityOptions(undefined, { caFile: ca }), { tls: { caFile: ca } });
  assert.deepEqual(securityOptions(undefined, {}), { tls: {} }, "TLS with the system's CAs");
  assert.throws(() => securityOptions(undefined, { certFile: ca }), /certFile and keyFile, both or neither/);
  assert.throws(() => securityOptions(undefined, { caFile: join(dir, "nope.pem") }), /NATS TLS CA file .*nope\.pem: ENOENT/);
  assert.throws(() => securityOptions({ credsFile: join(dir, "nope.creds") }, undefined), /NATS credentials file .*nope\.creds: ENOENT/);
});

test("connect errors in words an operator can act on", () => {
  assert.match(describeConnectError(new Error("'Authorization Violation'")), /^authorization violation \(the server refused these credentials/);
  assert.match(describeConnectError(new Error("unable to verify the first certificate")), /^TLS error: unable to verify the first certificate \(the CA file must hold/);
  assert.equal(describeConnectError(new Error("connection refused")), "connection refused");
});
