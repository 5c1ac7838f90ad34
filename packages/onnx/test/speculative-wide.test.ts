/** Speculative decoding's greedy parity (speculative-helpers.ts) with up to eight guesses per run and n-grams of 1–3 tokens. */
import { test } from "node:test";
import { assertGreedyParity } from "./speculative-helpers.js";

test("k ≤ 8, n-grams 1–3: ids and logprobs over many prompts, alone and batched", () => assertGreedyParity({ maxDraftTokens: 8, minNgram: 1, maxNgram: 3 }));
