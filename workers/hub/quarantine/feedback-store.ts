import type { Stamp } from "./store.ts";

/**
 * Operators' spam/ham reports (`feedback`) and their running sum per token (`feedback_tokens`,
 * kept by triggers: see migration 0007). Typed queries, every parameter bound.
 */

export type FeedbackVerdict = "ham" | "spam";

/**
 * What a report says about the filter: ham it quarantined (a false positive), spam it delivered
 * (a false negative), or agreement with what it did (a confirmation, which still trains).
 */
export type FeedbackKind = "false_positive" | "false_negative" | "confirmation";

export interface FeedbackRecord {
  id: number;
  messageId: number;
  verdict: FeedbackVerdict;
  kind: FeedbackKind;
  /** The message's action when it was reported (quarantine or accept), and the SCL the edge gave it. */
  messageAction: string;
  messageScl: number;
  /** Distinct tokens the report trained (their hashes only are stored). */
  tokens: number;
  reportedBy: string;
  reportedAt: string;
  withdrawnAt: string | null;
  withdrawnBy: string | null;
}

interface Row {
  id: number;
  message_id: number;
  verdict: FeedbackVerdict;
  message_action: string;
  message_scl: number;
  token_count: number;
  reported_by: string;
  reported_at: string;
  withdrawn_at: string | null;
  withdrawn_by: string | null;
}

/** Every column but the token list, which no read path needs. */
const COLUMNS = "id, message_id, verdict, message_action, message_scl, token_count, reported_by, reported_at, withdrawn_at, withdrawn_by";

export function feedbackKind(verdict: FeedbackVerdict, action: string): FeedbackKind {
  if (verdict === "ham" && action === "quarantine") return "false_positive";
  if (verdict === "spam" && action === "accept") return "false_negative";
  return "confirmation";
}

function toRecord(row: Row): FeedbackRecord {
  return {
    id: row.id,
    messageId: row.message_id,
    verdict: row.verdict,
    kind: feedbackKind(row.verdict, row.message_action),
    messageAction: row.message_action,
    messageScl: row.message_scl,
    tokens: row.token_count,
    reportedBy: row.reported_by,
    reportedAt: row.reported_at,
    withdrawnAt: row.withdrawn_at,
    withdrawnBy: row.withdrawn_by,
  };
}

/** A report to store. `tokens`: the message's distinct token hashes (unsigned 32-bit). */
export interface NewReport {
  messageId: number;
  verdict: FeedbackVerdict;
  messageAction: string;
  messageScl: number;
  tokens: number[];
  stamp: Stamp;
}

/**
 * Stores a report as the message's standing one, in one batch (one transaction): a standing
 * report with the other verdict is withdrawn first (its id is returned as `replaced`); a standing
 * report with the same verdict is kept as it is (`created` false, nothing changes). The triggers
 * add the new report's tokens to the sum and bump the feedback generation.
 */
export async function storeReport(db: D1Database, r: NewReport): Promise<{ report: FeedbackRecord; created: boolean; replaced: number | null }> {
  const [withdrawn, inserted, standing] = await db.batch<Row>([
    db
      .prepare(
        `UPDATE feedback SET withdrawn_at = ?, withdrawn_by = ?, tokens = '[]'
         WHERE message_id = ? AND withdrawn_at IS NULL AND verdict <> ? RETURNING ${COLUMNS}`,
      )
      .bind(r.stamp.at, r.stamp.by, r.messageId, r.verdict),
    db
      .prepare(
        `INSERT INTO feedback (message_id, verdict, message_action, message_scl, tokens, token_count, reported_by, reported_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (message_id) WHERE withdrawn_at IS NULL DO NOTHING
         RETURNING ${COLUMNS}`,
      )
      .bind(r.messageId, r.verdict, r.messageAction, r.messageScl, JSON.stringify(r.tokens), r.tokens.length, r.stamp.by, r.stamp.at),
    db.prepare(`SELECT ${COLUMNS} FROM feedback WHERE message_id = ? AND withdrawn_at IS NULL`).bind(r.messageId),
  ]);
  const row = inserted?.results[0] ?? standing?.results[0];
  if (row === undefined) throw new Error(`report for message ${r.messageId} neither stored nor found`);
  return { report: toRecord(row), created: (inserted?.results.length ?? 0) > 0, replaced: withdrawn?.results[0]?.id ?? null };
}

/** Withdraws a standing report (the triggers take its tokens out of the sum). Null when there is no standing report with that id. */
export async function withdrawReport(db: D1Database, id: number, stamp: Stamp): Promise<FeedbackRecord | null> {
  const row = await db
    .prepare(`UPDATE feedback SET withdrawn_at = ?, withdrawn_by = ?, tokens = '[]' WHERE id = ? AND withdrawn_at IS NULL RETURNING ${COLUMNS}`)
    .bind(stamp.at, stamp.by, id)
    .first<Row>();
  return row === null ? null : toRecord(row);
}

export async function getReport(db: D1Database, id: number): Promise<FeedbackRecord | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM feedback WHERE id = ?`).bind(id).first<Row>();
  return row === null ? null : toRecord(row);
}

/** Which reports a list shows. */
export type FeedbackState = "standing" | "withdrawn" | "all";

/** Reports newest first, below `before` (cursor pagination). */
export async function listReports(
  db: D1Database,
  options: { limit: number; before: number | null; state: FeedbackState; verdict: FeedbackVerdict | null; messageId: number | null },
): Promise<FeedbackRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM feedback
       WHERE id < ? AND (? = 'all' OR (? = 'standing') = (withdrawn_at IS NULL)) AND (? IS NULL OR verdict = ?) AND (? IS NULL OR message_id = ?)
       ORDER BY id DESC LIMIT ?`,
    )
    .bind(
      options.before ?? Number.MAX_SAFE_INTEGER,
      options.state,
      options.state,
      options.verdict,
      options.verdict,
      options.messageId,
      options.messageId,
      options.limit,
    )
    .all<Row>();
  return results.map(toRecord);
}

/** The feedback generation, the one the published model was built from, and the standing reports. */
export interface FeedbackTotals {
  generation: number;
  builtGeneration: number;
  nspam: number;
  nham: number;
}

export function totalsStatement(db: D1Database): D1PreparedStatement {
  return db.prepare("SELECT generation, built_generation AS builtGeneration, nspam, nham FROM feedback_state WHERE id = 1");
}

export async function feedbackTotals(db: D1Database): Promise<FeedbackTotals> {
  const row = await totalsStatement(db).first<FeedbackTotals>();
  if (row === null) throw new Error("feedback_state has no row: migration 0007 not applied");
  return row;
}
