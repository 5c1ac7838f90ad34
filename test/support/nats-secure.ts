/**
 * Secured nats-servers for the NATS security tests (docs/scale-out.md, "Security"): the keys,
 * certificates and JWTs are made here, in JavaScript (CI may have no openssl or nsc), and each
 * server gets a config file for one mode: user/password, token, NKey, operator mode with a
 * credentials file (operator → account → user JWTs, `resolver: MEMORY`), or mutual TLS.
 */
import "reflect-metadata"; // @peculiar/x509 uses tsyringe, which needs it loaded first
import { webcrypto } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import * as x509 from "@peculiar/x509";
import { startNatsServer, type NatsServer } from "./nats.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const dir = () => mkdtempSync(join(tmpdir(), "modelnode-nats-secure-"));
const pem = (label: string, der: ArrayBuffer) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END ${label}-----\n`;

export interface TestPki {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** A CA that signed nothing here: a client trusting only it must refuse the server. */
  otherCaFile: string;
}

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by it; valid for a day. */
export async function makePki(): Promise<TestPki> {
  const out = dir();
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const keys = () => webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as Promise<webcrypto.CryptoKeyPair>;
  const ca = async (name: string) => {
    const k = await keys();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01", name, notBefore, notAfter, keys: k, signingAlgorithm: ALG,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
    });
    return { k, cert };
  };
  const root = await ca("CN=modelnode test CA");
  const other = await ca("CN=some other CA");
  const leaf = async (serial: string, cn: string, usage: string) => {
    const k = await keys();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial, subject: `CN=${cn}`, issuer: root.cert.subject, notBefore, notAfter, signingKey: root.k.privateKey, publicKey: k.publicKey, signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "localhost" }, { type: "ip", value: "127.0.0.1" }]),
      ],
    });
    return { cert: cert.toString("pem") + "\n", key: pem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", k.privateKey)) };
  };
  const server = await leaf("02", "localhost", x509.ExtendedKeyUsage.serverAuth);
  const client = await leaf("03", "modelnode client", x509.ExtendedKeyUsage.clientAuth);
  const files: TestPki = {
    caFile: join(out, "ca.pem"), serverCertFile: join(out, "server.pem"), serverKeyFile: join(out, "server-key.pem"),
    clientCertFile: join(out, "client.pem"), clientKeyFile: join(out, "client-key.pem"), otherCaFile: join(out, "other-ca.pem"),
  };
  writeFileSync(files.caFile, root.cert.toString("pem") + "\n");
  writeFileSync(files.otherCaFile, other.cert.toString("pem") + "\n");
  writeFileSync(files.serverCertFile, server.cert);
  writeFileSync(files.serverKeyFile, server.key, { mode: 0o600 });
  writeFileSync(files.clientCertFile, client.cert);
  writeFileSync(files.clientKeyFile, client.key, { mode: 0o600 });
  return files;
}

/** A file holding `text` (mode 0600), for seeds and credentials. */
export function secretFile(name: string, text: string | Uint8Array): string {
  const file = join(dir(), name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** A fresh NKey user: its seed file (what the client gets) and public key (what the server lists). */
export function makeNkeyUser(): { seedFile: string; publicKey: string } {
  const user = createUser();
  return { seedFile: secretFile("user.nk", new TextDecoder().decode(user.getSeed())), publicKey: user.getPublicKey() };
}

/**
 * An operator, an account and a user in it, as `nsc` would make them: the server's config lines
 * (operator JWT, the account JWT preloaded in a memory resolver) and the user's `.creds` file. A
 * second user signed by another account key (not the server's account) makes a creds file the
 * server refuses.
 */
export async function makeOperatorChain(): Promise<{ serverConfig: string; credsFile: string; foreignCredsFile: string }> {
  const operator = createOperator();
  const account = createAccount();
  const operatorJwt = await encodeOperator("modelnode-test", operator);
  // An account JWT without limits allows nothing (no connection): -1 is "no limit", as nsc writes it.
  const limits = { conn: -1, subs: -1, data: -1, payload: -1, imports: -1, exports: -1, leaf: -1, wildcards: true };
  const accountJwt = await encodeAccount("models", account, { limits }, { signer: operator });
  const user = createUser();
  const userJwt = await encodeUser("worker", user, account);
  const stranger = createAccount();
  const other = createUser();
  const otherJwt = await encodeUser("stranger", other, stranger);
  const serverConfig = [`operator: ${operatorJwt}`, "resolver: MEMORY", `resolver_preload: {\n  ${account.getPublicKey()}: ${accountJwt}\n}`].join("\n");
  return { serverConfig, credsFile: secretFile("user.creds", fmtCreds(userJwt, user)), foreignCredsFile: secretFile("stranger.creds", fmtCreds(otherJwt, other)) };
}

/** A nats-server on a free loopback port started with `config` (nats-server's config syntax) as its config file. */
export function startConfiguredNatsServer(config: string): Promise<NatsServer> {
  const file = join(dir(), "nats.conf");
  writeFileSync(file, config + "\n", { mode: 0o600 });
  return startNatsServer(undefined, ["-c", file]);
}

/** nats-server's TLS block: its certificate, and with `verify` client certificates signed by the CA required. */
export function tlsBlock(pki: TestPki, verify: boolean): string {
  return `tls {\n  cert_file: "${pki.serverCertFile}"\n  key_file: "${pki.serverKeyFile}"\n  ca_file: "${pki.caFile}"\n  verify: ${verify}\n  timeout: 2\n}`;
}
