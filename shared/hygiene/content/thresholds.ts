import type { RecipientInfo } from "../../directory/entry.ts";
import type { DirectoryReader } from "../../directory/reader.ts";
import { readPolicy } from "../../policy.ts";
import { DEFAULT_THRESHOLDS, type SclThresholds } from "./scl.ts";

/** The thresholds that apply to one message, and the recipient override that set `reject`, if any. */
export interface MessageThresholds extends SclThresholds {
  /** The lowest per-recipient SCL override among the recipients, or null. */
  override: number | null;
}

/**
 * The thresholds for a message: the `thresholds` policy (or the defaults when it is absent or
 * there is no directory), with `reject` replaced by the recipients' SCL override when one is set
 * — the lowest, when several recipients have one (the strictest recipient wins; at the edge there
 * is one recipient per message). `lookup` finds a recipient's directory entry; the content filter
 * passes one that reuses what the recipient filter already looked up.
 *
 * @example
 * await thresholdsFor(directory, ["alice@example.com"]) // { reject: 7, quarantine: 5, tag: 4, override: null }
 */
export async function thresholdsFor(
  directory: DirectoryReader | null,
  recipients: readonly string[],
  lookup: (address: string) => Promise<RecipientInfo | null> = (address) => directory!.lookupRecipient(address),
): Promise<MessageThresholds> {
  if (directory === null) return { ...DEFAULT_THRESHOLDS, override: null };
  const policy = (await readPolicy(directory, "thresholds")) ?? DEFAULT_THRESHOLDS;
  let override: number | null = null;
  for (const address of recipients) {
    const scl = (await lookup(address))?.sclOverride ?? null;
    if (scl !== null && (override === null || scl < override)) override = scl;
  }
  return { reject: override ?? policy.reject, quarantine: policy.quarantine, tag: policy.tag, override };
}
