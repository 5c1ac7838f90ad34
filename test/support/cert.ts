/** A throwaway self-signed certificate for localhost, made with the openssl CLI (undefined when it is missing). */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SelfSigned {
  certFile: string;
  keyFile: string;
  cert: Buffer;
}

export function selfSignedCert(): SelfSigned | undefined {
  const dir = mkdtempSync(join(tmpdir(), "modelnode-tls-"));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1"];
  args.push("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", keyFile, "-out", certFile);
  const result = spawnSync("openssl", args, { stdio: "ignore" });
  if (result.error || result.status !== 0) return undefined;
  return { certFile, keyFile, cert: readFileSync(certFile) };
}
