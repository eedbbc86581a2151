import { messageTokens } from "../../../shared/hygiene/content/score.ts";
import { parseMessage } from "../../../shared/hygiene/parse.ts";
import { type FeedbackRecord, type FeedbackVerdict, feedbackTotals, storeReport, getReport, withdrawReport } from "./feedback-store.ts";
import { FEEDBACK_MAX_REPORTS } from "./limits.ts";
import { ensureContentModel, type ModelStatus } from "./model.ts";
import { QuarantineError } from "./errors.ts";
import { getStoredMessage, type Stamp } from "./store.ts";
import { hubLog } from "../../../shared/log.ts";

type Ctx = { waitUntil(promise: Promise<unknown>): void };

/** What a report did, and the model it is now in. */
export interface ReportResult {
  report: FeedbackRecord;
  /** False when the message already had a standing report with this verdict (nothing changed). */
  created: boolean;
  /** The id of the message's earlier report with the other verdict, withdrawn by this one. */
  replaced: number | null;
  model: ModelStatus;
}

/**
 * Takes an operator's report that a stored message is ham or spam: reads its bytes, parses them
 * with the edge's parser and limits, tokenises them with the content filter's own tokenizer (so
 * training and scoring agree on every token), stores the token hashes as the message's standing
 * report, and rebuilds the `content-model` policy (see model.ts). With `quarantineOnly`, the
 * message must be in the quarantine now.
 */
export async function reportMessage(
  env: Env,
  ctx: Ctx,
  id: number,
  verdict: FeedbackVerdict,
  stamp: Stamp,
  options: { quarantineOnly: boolean },
): Promise<ReportResult> {
  const message = await getStoredMessage(env.DB, id);
  if (message === null) throw new QuarantineError(404, "not_found", "No such message.");
  if (options.quarantineOnly && message.action !== "quarantine") {
    throw new QuarantineError(404, "not_quarantined", `Message ${id} is not in the quarantine (report it at /api/v1/messages/${id}/report).`);
  }
  if (message.action === "deleted") {
    throw new QuarantineError(409, "deleted", `Message ${id} was deleted at ${message.deletedAt}: its content is gone, so there is nothing to learn from.`);
  }
  const totals = await feedbackTotals(env.DB);
  if (totals.nspam + totals.nham >= FEEDBACK_MAX_REPORTS) {
    throw new QuarantineError(409, "feedback_full", `There are ${FEEDBACK_MAX_REPORTS} standing reports, the most kept; withdraw old ones first.`);
  }
  const object = await env.MAILBOX.get(message.r2Key);
  if (object === null) throw new QuarantineError(409, "bytes_missing", `Message ${id}'s stored bytes are missing.`);
  const parsed = await parseMessage(new Uint8Array(await object.arrayBuffer()));
  if (!parsed.ok) {
    throw new QuarantineError(
      422,
      "unparseable",
      `Message ${id} cannot be parsed (${parsed.reason.reason}), so the content filter has no tokens to learn from it.`,
    );
  }
  // Distinct, unsigned and sorted: the form the model stores.
  const tokens = [...new Set(messageTokens(parsed.email).map((h) => h >>> 0))].sort((a, b) => a - b);
  const stored = await storeReport(env.DB, { messageId: id, verdict, messageAction: message.action, messageScl: message.scl, tokens, stamp });
  const model = await ensureContentModel(env, ctx);
  hubLog(env.HUB_ID, { messageId: message.messageId, deliveryId: message.deliveryId }).info("feedback_reported", {
    feedbackId: stored.report.id,
    message: id,
    verdict,
    kind: stored.report.kind,
    created: stored.created,
  });
  return { ...stored, model };
}

/** Withdraws a standing report and rebuilds the model without it. */
export async function withdrawFeedback(env: Env, ctx: Ctx, id: number, stamp: Stamp): Promise<{ report: FeedbackRecord; model: ModelStatus }> {
  const report = await withdrawReport(env.DB, id, stamp);
  if (report === null) {
    const existing = await getReport(env.DB, id);
    if (existing === null) throw new QuarantineError(404, "not_found", "No such report.");
    throw new QuarantineError(409, "already_withdrawn", `Report ${id} was already withdrawn at ${existing.withdrawnAt} by ${existing.withdrawnBy}.`);
  }
  const model = await ensureContentModel(env, ctx);
  hubLog(env.HUB_ID).info("feedback_withdrawn", { feedbackId: id, message: report.messageId });
  return { report, model };
}
