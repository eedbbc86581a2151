/**
 * Onward steps: one row per stored message and distinct route (webhook or forward), with its
 * delivery state. Times are ISO 8601 strings, which order as they compare.
 */

export type OnwardState = "pending" | "delivered" | "failed";
export type OnwardKind = "webhook" | "forward";

/** An onward step as the admin API shows it (never with the webhook secret). */
export interface OnwardRecord {
  id: number;
  messageId: number;
  route: { type: "webhook"; url: string } | { type: "forward"; address: string };
  /** The message's recipients this route serves. */
  recipients: string[];
  state: OnwardState;
  attempts: number;
  lastError: string | null;
  lastAttemptAt: string | null;
  /** When the next attempt is due; null once delivered or failed. */
  nextAttemptAt: string | null;
  expiresAt: string;
  createdAt: string;
  /** When it became delivered or failed. */
  doneAt: string | null;
}

interface OnwardRow {
  id: number;
  message_id: number;
  kind: OnwardKind;
  target: string;
  secret: string | null;
  recipients: string;
  state: OnwardState;
  attempts: number;
  last_error: string | null;
  last_attempt_at: string | null;
  next_attempt_at: string;
  expires_at: string;
  created_at: string;
  done_at: string | null;
}

const PUBLIC_COLUMNS =
  "id, message_id, kind, target, recipients, state, attempts, last_error, last_attempt_at, next_attempt_at, expires_at, created_at, done_at";

function toRecord(row: Omit<OnwardRow, "secret">): OnwardRecord {
  return {
    id: row.id,
    messageId: row.message_id,
    route: row.kind === "webhook" ? { type: "webhook", url: row.target } : { type: "forward", address: row.target },
    recipients: JSON.parse(row.recipients) as string[],
    state: row.state,
    attempts: row.attempts,
    lastError: row.last_error,
    lastAttemptAt: row.last_attempt_at,
    nextAttemptAt: row.state === "pending" ? row.next_attempt_at : null,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    doneAt: row.done_at,
  };
}

/** An onward step to write with its message. */
export interface NewOnward {
  /** Tells distinct routes of one message apart (kind and target). */
  key: string;
  kind: OnwardKind;
  target: string;
  secret: string | null;
  recipients: string[];
  nextAttemptAt: string;
  expiresAt: string;
}

/**
 * The statement that writes one onward step for the message stored under `deliveryId`, meant for
 * the same batch (one transaction) as the message's insert. Idempotent on (message, route): a
 * retried delivery writes nothing and returns no row, so only a first write is queued.
 */
export function insertOnwardStatement(db: D1Database, deliveryId: string, o: NewOnward): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO onward (message_id, route_key, kind, target, secret, recipients, next_attempt_at, expires_at)
       SELECT id, ?, ?, ?, ?, ?, ?, ? FROM messages WHERE delivery_id = ?
       ON CONFLICT (message_id, route_key) DO NOTHING
       RETURNING id`,
    )
    .bind(o.key, o.kind, o.target, o.secret, JSON.stringify(o.recipients), o.nextAttemptAt, o.expiresAt, deliveryId);
}

/** A row claimed for one attempt: what the attempt needs, secret included. `attempt` is its fencing number. */
export interface ClaimedOnward {
  id: number;
  messageId: number;
  kind: OnwardKind;
  target: string;
  secret: string | null;
  recipients: string[];
  attempt: number;
  expiresAt: string;
}

/**
 * Starts an attempt on a pending row that is due and not expired: counts it and holds the row
 * until `leaseUntil`, so no other consumer (queue or cron) starts one meanwhile. Null when the row
 * is not there to take (delivered, failed, not yet due, or held by a running attempt).
 */
export async function claimOnward(db: D1Database, id: number, now: string, leaseUntil: string): Promise<ClaimedOnward | null> {
  const row = await db
    .prepare(
      `UPDATE onward SET attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = ?
       WHERE id = ? AND state = 'pending' AND next_attempt_at <= ? AND expires_at > ?
       RETURNING id, message_id, kind, target, secret, recipients, attempts, expires_at`,
    )
    .bind(now, leaseUntil, id, now, now)
    .first<Pick<OnwardRow, "id" | "message_id" | "kind" | "target" | "secret" | "recipients" | "attempts" | "expires_at">>();
  if (row === null) return null;
  return {
    id: row.id,
    messageId: row.message_id,
    kind: row.kind,
    target: row.target,
    secret: row.secret,
    recipients: JSON.parse(row.recipients) as string[],
    attempt: row.attempts,
    expiresAt: row.expires_at,
  };
}

/** How an attempt ended: delivered, to be retried at a time, or given up. */
export type AttemptResult = { state: "delivered" } | { state: "pending"; error: string; nextAttemptAt: string } | { state: "failed"; error: string };

/**
 * Records the end of attempt number `attempt`. Only that attempt may: when the row moved on
 * meanwhile (its lease ran out and another attempt started) nothing is written and false returned.
 */
export async function finishOnward(db: D1Database, id: number, attempt: number, result: AttemptResult, now: string): Promise<boolean> {
  const fence = "WHERE id = ? AND attempts = ? AND state = 'pending'";
  const statement =
    result.state === "delivered"
      ? db.prepare(`UPDATE onward SET state = 'delivered', last_error = NULL, done_at = ?, next_attempt_at = ? ${fence}`).bind(now, now, id, attempt)
      : result.state === "pending"
        ? db.prepare(`UPDATE onward SET last_error = ?, next_attempt_at = ? ${fence}`).bind(result.error, result.nextAttemptAt, id, attempt)
        : db.prepare(`UPDATE onward SET state = 'failed', last_error = ?, done_at = ?, next_attempt_at = ? ${fence}`).bind(result.error, now, now, id, attempt);
  return (await statement.run()).meta.changes > 0;
}

/**
 * Fails pending rows past their expiry that no attempt holds (an attempt in progress finishes
 * first). Returns how many.
 */
export async function expireOnward(db: D1Database, now: string): Promise<number> {
  const result = await db
    .prepare(
      `UPDATE onward SET state = 'failed', done_at = ?,
         last_error = 'expired after ' || attempts || ' attempt(s)' || coalesce(': ' || last_error, '')
       WHERE state = 'pending' AND next_attempt_at <= ? AND expires_at <= ?`,
    )
    .bind(now, now, now)
    .run();
  return result.meta.changes;
}

/** Ids of pending rows due at or before `before`, most overdue first. */
export async function dueOnward(db: D1Database, before: string, limit: number): Promise<number[]> {
  const { results } = await db
    .prepare("SELECT id FROM onward WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?")
    .bind(before, limit)
    .all<{ id: number }>();
  return results.map((r) => r.id);
}

/** A message's onward steps, in the order they were written. */
export async function onwardForMessage(db: D1Database, messageId: number): Promise<OnwardRecord[]> {
  const { results } = await db.prepare(`SELECT ${PUBLIC_COLUMNS} FROM onward WHERE message_id = ? ORDER BY id`).bind(messageId).all<OnwardRow>();
  return results.map(toRecord);
}

/** Onward steps newest first, optionally in one state; `before` is the id to continue below (cursor pagination). */
export async function listOnward(db: D1Database, state: OnwardState | null, limit: number, before: number | null): Promise<OnwardRecord[]> {
  const { results } = await db
    .prepare(`SELECT ${PUBLIC_COLUMNS} FROM onward WHERE id < ? AND (? IS NULL OR state = ?) ORDER BY id DESC LIMIT ?`)
    .bind(before ?? Number.MAX_SAFE_INTEGER, state, state, limit)
    .all<OnwardRow>();
  return results.map(toRecord);
}

/** One onward step, or null. */
export async function getOnward(db: D1Database, id: number): Promise<OnwardRecord | null> {
  const row = await db.prepare(`SELECT ${PUBLIC_COLUMNS} FROM onward WHERE id = ?`).bind(id).first<OnwardRow>();
  return row === null ? null : toRecord(row);
}

/**
 * Puts a failed step back to pending, due now, with a fresh expiry (an operator's retry once the
 * receiver is fixed). The attempt count carries on. Null when the row is not failed.
 */
export async function retryFailedOnward(db: D1Database, id: number, now: string, expiresAt: string): Promise<OnwardRecord | null> {
  const row = await db
    .prepare(
      `UPDATE onward SET state = 'pending', next_attempt_at = ?, expires_at = ?, done_at = NULL
       WHERE id = ? AND state = 'failed' RETURNING ${PUBLIC_COLUMNS}`,
    )
    .bind(now, expiresAt, id)
    .first<OnwardRow>();
  return row === null ? null : toRecord(row);
}
