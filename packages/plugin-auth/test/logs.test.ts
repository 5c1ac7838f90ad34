/** Keys, key hashes and license_hashes never reach the logs, whatever happens. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { authPlugin, hashLicenseKey } from "../src/index.js";
import { authentication, header, inference, startNode, testHandlersPlugin, TestClient } from "./helpers.js";

test("nothing secret is logged, even at trace level", async () => {
  const KEY = "lk-log-test-9d8c7b6a5f4e3d2c1b0a";
  const WRONG = "lk-wrong-guess-1234567890abcdef";
  const SECRET = "node-secret-for-the-log-test-0123456789";
  const lines: string[] = [];
  const logger = pino({ level: "trace" }, { write: (line: string) => void lines.push(line) });
  const { node, url } = await startNode({
    logger,
    plugins: [
      authPlugin({ keyHashes: [hashLicenseKey(KEY)], secret: SECRET, maxFailedAttempts: 3, failureDelayMs: 0 }),
      testHandlersPlugin(),
    ],
  });
  let licenseHash = "";
  try {
    const client = await TestClient.connect(url, { checkReplies: node });
    await client.request(authentication(WRONG));
    licenseHash = (await client.request(authentication(KEY))).license_hash;
    await client.request(inference({ license_hash: licenseHash }));
    await client.request(inference({ license_hash: `${licenseHash.slice(0, -2)}xx` }));
    await client.request({ session_id: "s", step: 0 });
    await client.request({ header: header("heartbeat", { license_hash: licenseHash }), worker_id: "w" });
    client.close();

    const other = await TestClient.connect(url, { checkReplies: node });
    for (let i = 0; i < 3; i++) await other.request(inference({ license_hash: `lh1.${WRONG}` }));
    await other.closed;
  } finally {
    await node.close();
  }
  const log = lines.join("");
  assert.ok(lines.length > 10, "the test saw the node's logs");
  assert.match(log, /authentication failed/);
  assert.match(log, /connection authenticated/);
  for (const secret of [KEY, WRONG, SECRET, hashLicenseKey(KEY).slice(7), hashLicenseKey(WRONG).slice(7), licenseHash.slice(4)]) {
    assert.ok(!log.includes(secret), `a secret value appeared in the logs (${secret.length} chars)`);
  }
});
