/**
 * How gateways and workers authenticate to NATS and secure the connection (docs/scale-out.md,
 * "Security"): user/password, a token, an NKey seed file, or a credentials file (JWT + seed,
 * operator mode); TLS with a CA, and a client certificate for mutual TLS. One connect function
 * for both sides, whose errors name the server (credentials removed) and what went wrong, never a
 * secret.
 */
import { readFileSync } from "node:fs";
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  type ConnectionOptions,
  type NatsConnection,
} from "@nats-io/transport-node";
import { reconnectOptions } from "./protocol.js";
import { probeTls } from "./connect-diagnosis.js";

/** One way to prove who this client is. Secrets in files are read once, at connect time. */
export type NatsAuth =
  | { user: string; pass: string }
  | { token: string }
  /** A file holding an NKey user seed ("SU…"), as `nsc` or `nk -gen user` writes it. */
  | { nkeySeedFile: string }
  /** A `.creds` file: a user JWT and its NKey seed (operator mode, `nsc generate creds`). */
  | { credsFile: string };

export interface NatsTls {
  /** PEM CA certificate(s) that signed the server's certificate. Default: the system's CAs. */
  caFile?: string;
  /** PEM client certificate and key, for servers that verify clients (mutual TLS). Both or neither. */
  certFile?: string;
  keyFile?: string;
}

/** What both sides give `connectNats`: the servers, and how to authenticate and encrypt. */
export interface NatsConnectOptions {
  servers: string | string[];
  auth?: NatsAuth;
  /** TLS required for the connection (an empty object: TLS with the system's CAs). */
  tls?: NatsTls;
  /** How long the first connection may take before startup fails. Default 5000 ms (a gateway: its requestTimeoutMs). */
  connectTimeoutMs?: number;
}

/** The client options for `auth` and `tls`; throws a clear error for a missing or unreadable file. */
export function securityOptions(auth: NatsAuth | undefined, tls: NatsTls | undefined): Partial<ConnectionOptions> {
  const out: Partial<ConnectionOptions> = {};
  if (auth && "user" in auth) Object.assign(out, { user: auth.user, pass: auth.pass });
  else if (auth && "token" in auth) out.token = auth.token;
  else if (auth && "nkeySeedFile" in auth) out.authenticator = nkeyAuthenticator(new TextEncoder().encode(readSecret(auth.nkeySeedFile, "NKey seed").trim()));
  else if (auth && "credsFile" in auth) out.authenticator = credsAuthenticator(new TextEncoder().encode(readSecret(auth.credsFile, "credentials")));
  if (tls) {
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) throw new Error("NATS TLS: a client certificate needs its key (certFile and keyFile, both or neither)");
    // The file names go to the client, which reads them; read here first for a clear error.
    for (const [what, file] of [["CA", tls.caFile], ["client certificate", tls.certFile], ["client key", tls.keyFile]] as const) {
      if (file !== undefined) readSecret(file, `TLS ${what}`);
    }
    out.tls = { ...(tls.caFile ? { caFile: tls.caFile } : {}), ...(tls.certFile ? { certFile: tls.certFile, keyFile: tls.keyFile } : {}) };
  }
  return out;
}

function readSecret(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`NATS ${what} file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** A URL list as it may be shown: user info (`user:pass@`, `token@`) replaced by `***@`. */
export function redactServers(servers: string | string[]): string {
  return (Array.isArray(servers) ? servers : servers.split(",")).map((s) => s.trim().replace(/\/\/[^/@]*@/, "//***@")).join(", ");
}

/**
 * Connects with the reconnect options both sides use. A connection that cannot be made (wrong
 * credentials, a certificate the server refuses, no server) fails at once with an error naming
 * the servers and the reason, e.g. "NATS server nats://127.0.0.1:4222: authorization violation".
 */
export async function connectNats(options: NatsConnectOptions & { name: string; reconnectWaitMs?: number }): Promise<NatsConnection> {
  const security = securityOptions(options.auth, options.tls);
  try {
    return await connect({
      servers: options.servers,
      name: options.name,
      timeout: options.connectTimeoutMs ?? 5000,
      ...reconnectOptions(options.reconnectWaitMs),
      ...security,
    });
  } catch (error) {
    const servers = redactServers(options.servers);
    let reason = describeConnectError(error as Error);
    // A refused client certificate looks like a time-out to the client: ask the first server why.
    const first = (Array.isArray(options.servers) ? options.servers : options.servers.split(","))[0]?.trim();
    if (options.tls && /timeout/i.test(reason) && first) {
      const tlsError = await probeTls(first, options.tls);
      if (tlsError) reason = `TLS error: ${tlsError} (the server wants a client certificate it trusts: give tls.certFile and tls.keyFile)`;
    }
    throw new Error(`NATS server${servers.includes(",") ? "s" : ""} ${servers}: ${reason}`);
  }
}

/** The reason, in words an operator can act on (the client's own message, with its cause, otherwise). */
export function describeConnectError(error: Error): string {
  const text = [error.message, (error.cause as Error | undefined)?.message].filter(Boolean).join(": ");
  if (/authorization violation/i.test(text)) return `authorization violation (the server refused these credentials: check the user, password, token, NKey or credentials file)`;
  if (/user authentication expired/i.test(text)) return `authorization violation (the credentials have expired)`;
  if (/unable to verify|self[- ]signed|unable to get (local )?issuer/i.test(text)) return `TLS error: ${text} (the CA file must hold the CA that signed the server's certificate)`;
  if (/certificate|ssl|tls|alert/i.test(text)) return `TLS error: ${text}`;
  return text;
}
