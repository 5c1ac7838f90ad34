/**
 * The responses this node keeps for `previous_response_id` and `GET /v1/responses/{id}`: in
 * memory, per process, the least recently used dropped first past `maxResponses` or `maxBytes`
 * (the stored JSON's size). Each entry holds the response as it was returned and the conversation
 * it ends (its history, its input, its output as turns), which a follow-up request continues.
 * Nothing survives a restart, and on NATS each gateway keeps its own.
 */
import type { InjectionToken } from "@modelnode/core";
import type { ChatTurn } from "./schema.js";
import type { ResponseObject } from "./responses-shapes.js";

export interface StoredResponse {
  response: ResponseObject;
  /** The chat a request naming this response as its previous one starts from (no instructions: OpenAI does not carry them over). */
  conversation: ChatTurn[];
  bytes: number;
}

export class ResponseStore {
  private readonly entries = new Map<string, StoredResponse>();
  private bytes = 0;

  constructor(
    readonly maxResponses: number,
    readonly maxBytes: number,
  ) {}

  get enabled(): boolean {
    return this.maxResponses > 0;
  }

  /** The stored response (now the most recently used), if it is still kept. */
  get(id: string): StoredResponse | undefined {
    const entry = this.entries.get(id);
    if (entry) {
      this.entries.delete(id);
      this.entries.set(id, entry);
    }
    return entry;
  }

  /** Keeps a response; one larger than the whole budget is not kept. */
  put(response: ResponseObject, conversation: ChatTurn[]): void {
    if (!this.enabled) return;
    const bytes = Buffer.byteLength(JSON.stringify(response)) + Buffer.byteLength(JSON.stringify(conversation));
    if (bytes > this.maxBytes) return;
    this.delete(response.id);
    this.entries.set(response.id, { response, conversation, bytes });
    this.bytes += bytes;
    for (const [id] of this.entries) {
      if (this.entries.size <= this.maxResponses && this.bytes <= this.maxBytes) break;
      this.delete(id);
    }
  }

  delete(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    this.bytes -= entry.bytes;
    return true;
  }

  snapshot(): { stored_responses: number; stored_response_bytes: number } {
    return { stored_responses: this.entries.size, stored_response_bytes: this.bytes };
  }
}

export const OPENAI_RESPONSE_STORE: InjectionToken<ResponseStore> = Symbol("modelnode.openai-response-store");
