/**
 * A gateway's session copies against its store (session-copies.ts): what a client gets when the
 * write after a step fails (store down, a history past NATS's max_payload, another gateway's
 * write), and that a failed write leaves the copy's history as it was.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isCodedError } from "@modelnode/core/pipeline";
import { silentLogger } from "../src/logger.js";
import type { StepCall } from "../src/protocol.js";
import { SessionCopies, type LocalSession } from "../src/session-copies.js";
import { MemorySessionStore, type SessionRecord } from "../src/session-store.js";

const call = (step: number): StepCall => ({ sessionId: "gA/s", modelId: "m", step, inputIds: [step] });
const record = (steps: number, worker = "w1"): SessionRecord => ({ modelId: "m", workerSessionId: "gA/s", worker, history: Array.from({ length: steps }, (_, i) => call(i)) });
const request = (step: number) => ({ sessionId: "s", modelId: "m", step, inputIds: [step] });

/** A memory store that is shared (as JetStream's is) and whose next write can be made to fail. */
class FlakyStore extends MemorySessionStore {
  override readonly shared = true;
  failWith?: Error;
  override async put(id: string, r: SessionRecord, revision: number): Promise<number> {
    if (this.failWith) throw this.failWith;
    return super.put(id, r, revision);
  }
}

async function copyOf(store: FlakyStore, steps: number): Promise<{ copies: SessionCopies; s: LocalSession }> {
  await store.put("s", record(steps), 0);
  const copies = new SessionCopies(store, silentLogger);
  const s = (await copies.load("s"))!;
  return { copies, s };
}

const codeOf = (promise: Promise<unknown>) => promise.then(() => "no error", (e) => (isCodedError(e) ? `${e.code} ${JSON.stringify(e.details ?? {})}` : String(e)));

test("a store that cannot be written: BUSY session_store, the copy's history unchanged", async () => {
  const store = new FlakyStore();
  const { copies, s } = await copyOf(store, 2);
  store.failWith = new Error("TIMEOUT");
  assert.match(await codeOf(copies.save(request(2), s, call(2), true)), /^BUSY .*session_store/);
  assert.equal(s.record.history.length, 2);
  store.failWith = undefined;
  await copies.save(request(2), s, call(2), true);
  assert.equal((await store.get("s"))!.record.history.length, 3, "the retry writes it");
});

test("a history past NATS's max_payload: CONTEXT_LENGTH_EXCEEDED, not a retryable BUSY", async () => {
  const store = new FlakyStore();
  const { copies, s } = await copyOf(store, 2);
  store.failWith = new Error("'payload' max_payload size exceeded");
  assert.match(await codeOf(copies.save(request(2), s, call(2), true)), /^CONTEXT_LENGTH_EXCEEDED .*session_store_max_payload/);
});

test("a stale copy: its step continues the stored record when it is that record's next step on the same cache; otherwise SESSION_BUSY and the copy is dropped", async () => {
  const store = new FlakyStore();
  const { copies, s } = await copyOf(store, 2);
  // Another gateway restarted the session and ran two steps on the same worker: the stored record expects step 2 as well.
  const other = await store.get("s");
  await store.put("s", record(2), other!.revision);
  await copies.save(request(2), s, call(2), true);
  assert.equal((await store.get("s"))!.record.history.length, 3);

  const stale = await copyOf(new FlakyStore(), 2);
  const current = (await stale.copies.store.get("s"))!;
  await stale.copies.store.put("s", record(3), current.revision); // another gateway ran step 2 itself
  assert.match(await codeOf(stale.copies.save(request(2), stale.s, call(2), true)), /^SESSION_BUSY/);
  assert.equal(stale.copies.get("s"), undefined, "the stale copy is gone: the next step reads the store");

  const replayed = await copyOf(new FlakyStore(), 2);
  const now = (await replayed.copies.store.get("s"))!;
  await replayed.copies.store.put("s", record(2), now.revision);
  assert.match(await codeOf(replayed.copies.save(request(2), replayed.s, call(2), false)), /^SESSION_BUSY/, "a step replayed from the stale history does not fit the stored one");
});
