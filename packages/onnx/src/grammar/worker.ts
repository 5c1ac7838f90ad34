/**
 * The grammar thread's entry point (a `worker_threads` Worker started by engine/grammars.ts on the
 * first constrained generation): hands every message to the grammar service. Compiling a grammar
 * blocks the thread it runs on; here, that is this thread, never the engine's.
 */
import { workerData, type MessagePort } from "node:worker_threads";
import type { FromGrammar, GrammarThreadOptions, ToGrammar } from "../messages/grammar-protocol.js";
import { GrammarService } from "./service.js";

// Its own channel to the engine (not parentPort): the engine reads replies without an event-loop turn.
const { port, ...options } = workerData as GrammarThreadOptions & { port: MessagePort };
const service = new GrammarService(options, (message: FromGrammar, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer ?? []));
port.on("message", (message: ToGrammar) => service.handle(message));
