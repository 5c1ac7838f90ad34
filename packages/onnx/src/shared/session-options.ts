import type { InferenceSession } from "onnxruntime-node";

/**
 * The session options every model gets (the load bench's bare loop uses the same). The CPU memory
 * arena is off: measured on onnxruntime-node 1.30, after one long prefill the arena made every
 * later decode step about 2x slower (0.55 vs 0.30 ms/token on the tiny model at 513 tokens of
 * context), while plain malloc costs nothing measurable. Spinning intra-op threads burn a core
 * while they wait for work, which on a small machine is a core the sockets do not get; measured
 * on 2 cores (GPT-2 small, batch 8), spinning off was no slower. `overrides` win.
 */
export function sessionOptionsFor(
  threads: number,
  spinning: boolean,
  overrides: InferenceSession.SessionOptions = {},
): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    enableCpuMemArena: false,
    ...overrides,
    extra: withSpinning(overrides.extra, spinning),
  };
}

type ExtraOptions = Record<string, unknown> & { session?: Record<string, unknown> & { intra_op?: Record<string, unknown> } };

/** ONNX Runtime's session config entry session.intra_op.allow_spinning, unless the caller set it. */
function withSpinning(extra: ExtraOptions | undefined, spinning: boolean): ExtraOptions {
  return {
    ...extra,
    session: { ...extra?.session, intra_op: { allow_spinning: spinning ? "1" : "0", ...extra?.session?.intra_op } },
  };
}
