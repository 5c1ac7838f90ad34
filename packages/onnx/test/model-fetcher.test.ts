// FetchOnce: one fetch per model however many requests wait; a request that waits too long gets
// BUSY while the fetch goes on; a failure reaches every waiter, coded; close aborts the fetches.
import { test } from "node:test";
import assert from "node:assert/strict";
import { errors, isCodedError } from "@modelnode/core/pipeline";
import { FetchOnce, type ModelFetcher } from "../src/main/model-fetcher.js";
import { silentLogger } from "../src/shared/logger.js";

/** A fetcher whose fetches end when the test says. */
function controlled() {
  const calls: { id: string; signal: AbortSignal; resolve: () => void; reject: (error: unknown) => void }[] = [];
  const fetcher: ModelFetcher = {
    accepts: (id) => id.includes("/"),
    fetch: (id, signal) => new Promise<void>((resolve, reject) => calls.push({ id, signal, resolve, reject })),
  };
  return { fetcher, calls };
}

test("concurrent requests share one fetch; the directory is read again once before they go on", async () => {
  const { fetcher, calls } = controlled();
  let rescans = 0;
  const once = new FetchOnce(fetcher, 60_000, () => rescans++, silentLogger);
  assert.equal(once.accepts("org/a"), true);
  assert.equal(once.accepts("local"), false);
  const waiting = [once.fetch("org/a"), once.fetch("org/a"), once.fetch("org/a")];
  assert.equal(calls.length, 1);
  assert.equal(once.isFetching("org/a"), true);
  calls[0].resolve();
  await Promise.all(waiting);
  assert.equal(rescans, 1);
  assert.equal(once.isFetching("org/a"), false);
  assert.deepEqual(once.stats(), { modelFetches: 1, modelFetchFailures: 0, modelsFetching: 0 });
  void once.fetch("org/a").catch(() => undefined);
  assert.equal(calls.length, 2, "a finished fetch is not reused: a later one fetches again");
  calls[1].resolve();
});

test("a request that waits past its bound gets BUSY naming the model; the fetch goes on for the next one", async () => {
  const { fetcher, calls } = controlled();
  const once = new FetchOnce(fetcher, 1, () => undefined, silentLogger);
  await assert.rejects(once.fetch("org/slow"), (error: unknown) => isCodedError(error) && error.code === "BUSY" && /org\/slow.*still being fetched/.test(error.message));
  assert.equal(once.isFetching("org/slow"), true, "not cancelled");
  assert.equal(calls[0].signal.aborted, false);
  const next = once.fetch("org/slow");
  calls[0].resolve();
  await next;
  assert.equal(calls.length, 1);
});

test("a failure reaches every waiter: a coded one as it is, anything else as BUSY with its message; close aborts running fetches", async () => {
  const { fetcher, calls } = controlled();
  const once = new FetchOnce(fetcher, 60_000, () => undefined, silentLogger);
  const coded = [once.fetch("org/gone"), once.fetch("org/gone")];
  calls[0].reject(errors.modelNotFetched("org/gone", "not on the Hub"));
  for (const waiter of coded) await assert.rejects(waiter, (error: unknown) => isCodedError(error) && error.code === "MODEL_NOT_FOUND");
  const plain = once.fetch("org/odd");
  calls[1].reject(new Error("disk full"));
  await assert.rejects(plain, (error: unknown) => isCodedError(error) && error.code === "BUSY" && /org\/odd.*disk full/.test(error.message));
  assert.equal(once.stats().modelFetchFailures, 2);

  const running = once.fetch("org/late");
  once.close();
  assert.equal(calls[2].signal.aborted, true, "the pipeline closing aborts the fetch");
  assert.equal(once.accepts("org/other"), false, "and takes no new one");
  calls[2].reject(new Error("aborted"));
  await assert.rejects(running);
});
