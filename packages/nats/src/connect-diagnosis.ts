/**
 * Why a TLS connection to NATS timed out. A server that requires a client certificate (mutual
 * TLS) rejects a client without one, or with one it does not trust, after the TLS 1.3 handshake:
 * the NATS client sees the connection close and waits for its connect timeout, without the
 * reason. This probe opens one plain TLS connection the same way and reports the TLS error the
 * server sent (e.g. "sslv3 alert bad certificate"), so startup fails with the reason.
 */
import { readFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";

/** The TLS error from `server` ("nats://host:port"), or undefined when there was none within `ms`. */
export function probeTls(server: string, tls: { caFile?: string; certFile?: string; keyFile?: string }, ms = 2000): Promise<string | undefined> {
  const url = new URL(server.includes("://") ? server : `nats://${server}`);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve) => {
    const socket = netConnect(Number(url.port || 4222), host);
    let settled = false;
    const done = (reason: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done(undefined), ms);
    socket.on("error", () => done(undefined));
    // NATS sends INFO in clear first; the TLS handshake starts after it.
    socket.once("data", () => {
      const secure = tlsConnect({
        socket,
        servername: /^[\d.]+$|:/.test(host) ? undefined : host,
        ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
        ...(tls.certFile && tls.keyFile ? { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } : {}),
      });
      // `reason` is OpenSSL's short text ("sslv3 alert bad certificate"), the message its long form.
      secure.on("error", (error: Error & { reason?: string }) => done(error.reason ?? error.message));
      // A server that accepted the handshake answers a PING (or an auth error): no TLS error then.
      secure.on("secureConnect", () => secure.write("CONNECT {}\r\nPING\r\n"));
      secure.on("data", () => done(undefined));
    });
  });
}
