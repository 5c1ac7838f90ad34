/** A legacy client on a raw WebSocket: one JSON step at a time (docs/plugin-legacy.md), its reply back. */
import WebSocket from "ws";

export type LegacyReply = { session_id: string; step: number; output_tensors?: Record<string, unknown>; error?: { code: string; message: string } };

export class LegacyConnection {
  private constructor(private readonly ws: WebSocket) {}

  static async open(url: string): Promise<LegacyConnection> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    return new LegacyConnection(ws);
  }

  step(session: string, step: number, inputIds: string | number[], modelId?: string): Promise<LegacyReply> {
    return new Promise((resolve, reject) => {
      const closed = () => reject(new Error(`connection closed during step ${step}`));
      this.ws.once("close", closed);
      this.ws.once("message", (data) => {
        this.ws.off("close", closed);
        resolve(JSON.parse(String(data)) as LegacyReply);
      });
      this.ws.send(JSON.stringify({ session_id: session, step, ...(modelId ? { model_id: modelId } : {}), input_tensors: { input_ids: inputIds } }));
    });
  }

  close(): void {
    this.ws.removeAllListeners();
    this.ws.on("error", () => {});
    this.ws.close();
  }
}

/** Step n's input: a prompt at step 0, then the previous step's next token (the greedy continuation). */
export const legacyInput = (step: number, previous?: LegacyReply): string | number[] =>
  step === 0 ? "Once upon a time, in a land far away," : [previous!.output_tensors!.next_token_id as number];
