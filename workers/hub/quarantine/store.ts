import type { AgentOutcome } from "../../../shared/hygiene/types.ts";
import type { NewOnward } from "../db/onward.ts";

/**
 * The quarantine's view of the mailbox index (`messages` rows with action 'quarantine') and the
 * writes that take a message out of it. Typed queries, every parameter bound.
 */

/** A quarantined message as the list shows it. */
export interface QuarantineItem {
  id: number;
  deliveryId: string;
  from: string;
  to: string[];
  subject: string | null;
  messageId: string | null;
  size: number;
  scl: number;
  /** The agent results that put it there (result `fail`: the content filter's spam verdict, DMARC quarantine, …). */
  reasons: AgentOutcome[];
  /** Every agent's result. */
  agents: AgentOutcome[];
  receivedAt: string;
  storedAt: string;
}

/** Any stored message with what the quarantine actions need: where its bytes are, and what was done to it. */
export interface StoredMessage extends QuarantineItem {
  edgeId: string;
  /** accept | quarantine | deleted */
  action: string;
  tags: Record<string, string>;
  r2Key: string;
  releasedAt: string | null;
  releasedBy: string | null;
  deletedAt: string | null;
  deletedBy: string | null;
}

/** The row as selected by {@link COLUMNS}: the record's names, with the JSON columns still text. */
type Row = Omit<StoredMessage, "to" | "agents" | "reasons" | "tags"> & { to: string; agents: string; tags: string };

const COLUMNS = `id, delivery_id AS deliveryId, edge_id AS edgeId, mail_from AS "from", rcpt_to AS "to", subject, message_id AS messageId,
  size, scl, agents, tags, action, r2_key AS r2Key, received_at AS receivedAt, stored_at AS storedAt,
  released_at AS releasedAt, released_by AS releasedBy, deleted_at AS deletedAt, deleted_by AS deletedBy`;

function toStored(row: Row): StoredMessage {
  const agents = JSON.parse(row.agents) as AgentOutcome[];
  return {
    ...row,
    to: JSON.parse(row.to) as string[],
    reasons: agents.filter((a) => a.result === "fail"),
    agents,
    tags: JSON.parse(row.tags) as Record<string, string>,
  };
}

/** A stored message as the quarantine list shows it: without where its bytes are or what was done to it. */
export function quarantineItem(m: StoredMessage): QuarantineItem {
  const { edgeId: _e, action: _a, tags: _t, r2Key: _k, releasedAt: _ra, releasedBy: _rb, deletedAt: _da, deletedBy: _db, ...item } = m;
  return item;
}

/**
 * An envelope filter: an address (`sender@example.net`, matched without regard to case) or a
 * whole domain (`@example.net`, that domain only), already lower-cased.
 */
export type AddressFilter = string;

/** The SQL condition and parameters for one address filter on an expression (a column, or json_each's value). */
function matches(expression: string, filter: AddressFilter): { sql: string; params: (string | number)[] } {
  return filter.startsWith("@")
    ? { sql: `substr(lower(${expression}), -?) = ?`, params: [filter.length, filter] }
    : { sql: `lower(${expression}) = ?`, params: [filter] };
}

/** Quarantined messages newest first, below `before` (cursor pagination), optionally by sender and recipient. */
export async function listQuarantine(
  db: D1Database,
  options: { limit: number; before: number | null; sender: AddressFilter | null; recipient: AddressFilter | null },
): Promise<QuarantineItem[]> {
  const where = ["action = 'quarantine'", "id < ?"];
  const params: (string | number)[] = [options.before ?? Number.MAX_SAFE_INTEGER];
  if (options.sender !== null) {
    const m = matches("mail_from", options.sender);
    where.push(m.sql);
    params.push(...m.params);
  }
  if (options.recipient !== null) {
    const m = matches("value", options.recipient);
    where.push(`EXISTS (SELECT 1 FROM json_each(rcpt_to) WHERE ${m.sql})`);
    params.push(...m.params);
  }
  const { results } = await db
    .prepare(`SELECT ${COLUMNS} FROM messages WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT ?`)
    .bind(...params, options.limit)
    .all<Row>();
  return results.map((r) => quarantineItem(toStored(r)));
}

/** A stored message by id, whatever its action, or null. */
export async function getStoredMessage(db: D1Database, id: number): Promise<StoredMessage | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM messages WHERE id = ?`).bind(id).first<Row>();
  return row === null ? null : toStored(row);
}

/** Who released or deleted a message, and when (ISO 8601). Also what tells one release's writes from another's. */
export interface Stamp {
  at: string;
  by: string;
}

/**
 * The statement that releases a quarantined message: action 'accept', its new R2 key and tags,
 * and the release stamp. Returns its id as one row, or no row when the message was not in the
 * quarantine (released or deleted meanwhile: the caller answers 409).
 */
export function releaseStatement(db: D1Database, id: number, r2Key: string, tags: Record<string, string>, stamp: Stamp): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE messages SET action = 'accept', r2_key = ?, tags = ?, released_at = ?, released_by = ?
       WHERE id = ? AND action = 'quarantine' RETURNING id`,
    )
    .bind(r2Key, JSON.stringify(tags), stamp.at, stamp.by, id);
}

/**
 * The statement that writes one onward step of a release, for the same batch as
 * {@link releaseStatement}: it writes only when this release's stamp is on the row, so a release
 * that lost a race writes no step. Idempotent on (message, route) like ingest's.
 */
export function releasedOnwardStatement(db: D1Database, id: number, stamp: Stamp, o: NewOnward): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO onward (message_id, route_key, kind, target, secret, recipients, next_attempt_at, expires_at)
       SELECT id, ?, ?, ?, ?, ?, ?, ? FROM messages WHERE id = ? AND action = 'accept' AND released_at = ? AND released_by = ?
       ON CONFLICT (message_id, route_key) DO NOTHING
       RETURNING id`,
    )
    .bind(o.key, o.kind, o.target, o.secret, JSON.stringify(o.recipients), o.nextAttemptAt, o.expiresAt, id, stamp.at, stamp.by);
}

/** Marks a quarantined message deleted (its bytes are deleted by the caller). False when it was not in the quarantine. */
export async function markDeleted(db: D1Database, id: number, stamp: Stamp): Promise<boolean> {
  const row = await db
    .prepare("UPDATE messages SET action = 'deleted', deleted_at = ?, deleted_by = ? WHERE id = ? AND action = 'quarantine' RETURNING id")
    .bind(stamp.at, stamp.by, id)
    .first<{ id: number }>();
  return row !== null;
}
