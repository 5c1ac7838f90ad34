#!/usr/bin/env node
/**
 * The `modelnode-hash-key` command (bin/modelnode-hash-key.js runs this file): prints the
 * "sha256:<hex>" form of a license key, for authPlugin({ keyHashes }).
 *   node dist/src/hash-key-cli.js <key>            (the key lands in shell history and `ps`)
 *   printf %s "$KEY" | node dist/src/hash-key-cli.js   (reads stdin; one trailing newline is dropped)
 */
import { hashLicenseKey } from "./credentials.js";

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("license key (then Ctrl-D): ");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

const arg = process.argv[2];
const key = arg !== undefined && arg !== "-" ? arg : await readStdin();
if (key.length === 0) {
  process.stderr.write("usage: modelnode-hash-key <license-key>   or   printf %s KEY | modelnode-hash-key\n");
  process.exit(2);
}
process.stdout.write(`${hashLicenseKey(key)}\n`);
