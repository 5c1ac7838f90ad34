/**
 * The choices of one request (OpenAI's `n`, core's `ChoiceGroup`) reach the engine together: the
 * first to start encodes the prompt, the others of its group that start before that encoding is
 * done join it, and all of them go out in one `generate` message (at most `maxBatchSize` per
 * message), so the engine prefills the prompt once for them. A choice that does not match the
 * first (another prompt or other settings than the seed), that resumes, or that starts late goes
 * alone, as any request does: grouping saves work, it never changes a result.
 */
import type { ChoiceGroup, GenerateRequest } from "@modelnode/core/pipeline";
import type { ResolvedSampling } from "../messages/sampling.js";
import type { GenerationInput } from "../messages/tokenizer-protocol.js";

export interface GroupMember {
  id: number;
  seed: number;
  /** Whether it was cancelled before it was sent. */
  cancelled(): boolean;
}

interface Gathering {
  key: string;
  members: GroupMember[];
}

export class ChoiceGroups {
  private readonly gathering = new Map<ChoiceGroup, Gathering>();

  /**
   * A starting generation's place: "first" (it encodes the prompt, then sends the group: `close`),
   * "joined" (the first one sends it) or "alone".
   */
  join(request: GenerateRequest, input: GenerationInput, settings: ResolvedSampling, member: GroupMember): "first" | "joined" | "alone" {
    const group = request.choice?.group;
    if (!group || group.size < 2 || request.resume !== undefined) return "alone";
    const key = JSON.stringify([request.modelId, input, settings.maxTokens, settings.stop, { ...settings.sampling, seed: 0 }]);
    const open = this.gathering.get(group);
    if (!open) {
      this.gathering.set(group, { key, members: [member] });
      return "first";
    }
    if (open.key !== key) return "alone";
    open.members.push(member);
    return "joined";
  }

  /** Ends the group's gathering (its prompt is encoded, or failed): its members, the first one first. */
  close(group: ChoiceGroup): GroupMember[] {
    const open = this.gathering.get(group);
    this.gathering.delete(group);
    return open?.members ?? [];
  }
}

/** `items` in runs of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
