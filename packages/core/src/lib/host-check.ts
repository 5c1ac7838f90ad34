/**
 * DNS rebinding guard (what hit Ollama as CVE-2024-28224): a web page on evil.example can make
 * its name resolve to 127.0.0.1 and then talk to a node on the user's machine as a "same-origin"
 * site. Such a request still carries `Host: evil.example`. So a request that arrives on a
 * loopback address must name the node by a loopback name: `localhost` (or `*.localhost`), an IP
 * literal (rebinding needs a name), or a name the operator lists in `allowedHosts` ("*" turns
 * the check off). Requests on other interfaces are not checked: there the network decides.
 */
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

/** True when the request must be refused (403). */
export function hostRefused(req: IncomingMessage, allowedHosts: readonly string[] | undefined): boolean {
  if (!isLoopback(req.socket.localAddress)) return false;
  if (allowedHosts?.includes("*")) return false;
  const name = hostName(req.headers.host);
  if (name === undefined) return true;
  if (name === "localhost" || name.endsWith(".localhost") || isIP(name) !== 0) return false;
  return !(allowedHosts ?? []).some((allowed) => allowed.toLowerCase() === name);
}

/** The Host header's name, lower-cased, without port or IPv6 brackets; undefined when absent or malformed. */
function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const host = header.trim().toLowerCase();
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end > 0 ? host.slice(1, end) : undefined;
  }
  const colon = host.indexOf(":");
  const name = colon < 0 ? host : host.slice(0, colon);
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}
