#!/usr/bin/env node
/**
 * The `modelnode-hash-key` command (bin/modelnode-hash-key.js runs this file): prints the
 * "sha256:<hex>" form of a license key, for authPlugin({ keyHashes }).
 *   node dist/src/hash-key-cli.js <key>            (the key lands in shell history and `ps`)
 *   printf %s "$KEY" | node dist/src/hash-key-cli.js   (reads stdin; one trailing newline is dropped)
 *   node dist/src/hash-key-cli.js -- -key-with-dash    (after --, a key may start with "-")
 */
import { parseArgs } from "node:util";
import { hashLicenseKey } from "./credentials.js";

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("license key (then Ctrl-D): ");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

const USAGE = `usage: modelnode-hash-key <license-key>   or   printf %s KEY | modelnode-hash-key

Prints the "sha256:<hex>" hash of a license key, the form authPlugin({ keyHashes }) and the
config's auth.keyHashes take. Reading the key from stdin keeps it out of shell history and \`ps\`.

  -           read the key from stdin (also when no key is given)
  --          what follows is the key, even if it starts with "-"
  -h, --help  show this help
`;
function usageError(message: string): never {
  process.stderr.write(`modelnode-hash-key: ${message}\n\n${USAGE}`);
  process.exit(2);
}

// parseArgs: -h/--help, "--" before a key that starts with "-", and any other "-x" refused (a
// typo is likelier than such a key, whose hash would then be configured by mistake).
let parsed;
try {
  parsed = parseArgs({ options: { help: { type: "boolean", short: "h" } }, allowPositionals: true });
} catch (error) {
  usageError((error as Error).message);
}
if (parsed.values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (parsed.positionals.length > 1) usageError("one key at a time");
const arg = parsed.positionals[0];
const key = arg !== undefined && arg !== "-" ? arg : await readStdin();
if (key.length === 0) usageError("no key given");
process.stdout.write(`${hashLicenseKey(key)}\n`);
