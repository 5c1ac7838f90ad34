/**
 * How the gateway and worker roles authenticate to NATS and secure the connection
 * (docs/scale-out.md, "Security"): the config file's `natsAuth` and `natsTls`, their
 * environment variables and flags, and the options they give @modelnode/nats. Secrets (a
 * password, a token) are better kept out of the command line (other users' `ps` shows it): use
 * the environment, the config file, or a file (NKey seed, credentials).
 */
import { z } from "@modelnode/core";
import type { NatsAuth, NatsConnectOptions, NatsTls } from "@modelnode/nats";

const text = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` }).max(4096, { error: `expected ${what} (at most 4096 characters)` });
const file = () => text("file path");

/** At most one way to authenticate; a user needs a password and a password a user. */
export const natsAuthConfigSchema = z
  .strictObject({
    user: text("NATS user name").optional(),
    pass: text("NATS password").optional(),
    token: text("NATS token").optional(),
    /** A file holding an NKey user seed ("SU…"). */
    nkeySeedFile: file().optional(),
    /** A `.creds` file (user JWT + NKey seed; operator mode). */
    credsFile: file().optional(),
  })
  .superRefine((auth, ctx) => {
    const modes = [auth.user !== undefined || auth.pass !== undefined ? "user" : "", auth.token ? "token" : "", auth.nkeySeedFile ? "nkeySeedFile" : "", auth.credsFile ? "credsFile" : ""].filter(Boolean);
    if (modes.length > 1) ctx.addIssue({ code: "custom", path: [modes[1]], message: `expected one way to authenticate, got ${modes.join(" and ")}` });
    if (auth.user !== undefined && auth.pass === undefined) ctx.addIssue({ code: "custom", path: ["pass"], message: "expected a password with the user" });
    if (auth.pass !== undefined && auth.user === undefined) ctx.addIssue({ code: "custom", path: ["user"], message: "expected a user with the password" });
  });

/** TLS to NATS: the CA that signed the server's certificate, and a client certificate for mutual TLS. */
export const natsTlsConfigSchema = z
  .strictObject({ caFile: file().optional(), certFile: file().optional(), keyFile: file().optional() })
  .superRefine((tls, ctx) => {
    if (tls.certFile !== undefined && tls.keyFile === undefined) ctx.addIssue({ code: "custom", path: ["keyFile"], message: "expected the client certificate's key (keyFile) with certFile" });
    if (tls.keyFile !== undefined && tls.certFile === undefined) ctx.addIssue({ code: "custom", path: ["certFile"], message: "expected the client certificate (certFile) with keyFile" });
  });

type NatsAuthConfig = z.output<typeof natsAuthConfigSchema>;
type NatsTlsConfig = z.output<typeof natsTlsConfigSchema>;

/** Environment variable → key: `natsAuth`'s, then `natsTls`'s (file paths resolved against the working directory). */
export const NATS_AUTH_ENV = [["MODELNODE_NATS_USER", "user"], ["MODELNODE_NATS_PASS", "pass"], ["MODELNODE_NATS_TOKEN", "token"], ["MODELNODE_NATS_NKEY_SEED", "nkeySeedFile"], ["MODELNODE_NATS_CREDS", "credsFile"]] as const;
export const NATS_TLS_ENV = [["MODELNODE_NATS_TLS_CA", "caFile"], ["MODELNODE_NATS_TLS_CERT", "certFile"], ["MODELNODE_NATS_TLS_KEY", "keyFile"]] as const;
/** Flag → key, likewise. */
export const NATS_AUTH_FLAGS = [["nats-user", "user"], ["nats-pass", "pass"], ["nats-token", "token"], ["nats-nkey-seed", "nkeySeedFile"], ["nats-creds", "credsFile"]] as const;
export const NATS_TLS_FLAGS = [["nats-tls-ca", "caFile"], ["nats-tls-cert", "certFile"], ["nats-tls-key", "keyFile"]] as const;
/** The keys whose values are file paths (relative to the config file, or to the working directory). */
export const NATS_FILE_KEYS: ReadonlySet<string> = new Set(["nkeySeedFile", "credsFile", "caFile", "certFile", "keyFile"]);

/** The servers, auth and TLS options @modelnode/nats takes, from a validated config. */
export function natsConnectOptions(config: { nats?: string; natsAuth?: NatsAuthConfig; natsTls?: NatsTlsConfig }): NatsConnectOptions & { servers: string[] } {
  const servers = (config.nats ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return { servers, ...(config.natsAuth ? { auth: toAuth(config.natsAuth) } : {}), ...(config.natsTls ? { tls: config.natsTls as NatsTls } : {}) };
}

function toAuth(auth: NatsAuthConfig): NatsAuth | undefined {
  if (auth.user !== undefined && auth.pass !== undefined) return { user: auth.user, pass: auth.pass };
  if (auth.token !== undefined) return { token: auth.token };
  if (auth.nkeySeedFile !== undefined) return { nkeySeedFile: auth.nkeySeedFile };
  if (auth.credsFile !== undefined) return { credsFile: auth.credsFile };
  return undefined;
}
