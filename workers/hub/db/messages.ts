import type { AgentOutcome } from "../../../shared/hygiene/types.ts";

/** A stored message as the admin API shows it. */
export interface MessageRecord {
  id: number;
  deliveryId: string;
  edgeId: string;
  from: string;
  to: string[];
  subject: string | null;
  messageId: string | null;
  size: number;
  sha256: string;
  action: string;
  scl: number;
  agents: AgentOutcome[];
  /** Headers added to tagged copies (X-Portcullis-SCL, X-Portcullis-Status). */
  tags: Record<string, string>;
  receivedAt: string;
  storedAt: string;
}

interface MessageRow {
  id: number;
  delivery_id: string;
  edge_id: string;
  mail_from: string;
  rcpt_to: string;
  subject: string | null;
  message_id: string | null;
  size: number;
  sha256: string;
  r2_key: string;
  action: string;
  scl: number;
  agents: string;
  tags: string;
  received_at: string;
  stored_at: string;
}

/** What the mailbox store inserts: a record before the database gives it an id, plus where the bytes are. */
export type NewMessage = Omit<MessageRecord, "id" | "storedAt"> & { r2Key: string };

function toRecord(row: MessageRow): MessageRecord {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    edgeId: row.edge_id,
    from: row.mail_from,
    to: JSON.parse(row.rcpt_to) as string[],
    subject: row.subject,
    messageId: row.message_id,
    size: row.size,
    sha256: row.sha256,
    action: row.action,
    scl: row.scl,
    agents: JSON.parse(row.agents) as AgentOutcome[],
    tags: JSON.parse(row.tags) as Record<string, string>,
    receivedAt: row.received_at,
    storedAt: row.stored_at,
  };
}

/**
 * The statement that inserts a message unless its delivery id is already stored. It returns the
 * new id as its one row, or no row when the delivery id existed (a retried hand-over). A statement
 * rather than a call, so the onward steps go into the same batch (one transaction).
 */
export function insertMessageStatement(db: D1Database, m: NewMessage): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO messages (delivery_id, edge_id, mail_from, rcpt_to, subject, message_id, size, sha256, r2_key, action, scl, agents, tags, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (delivery_id) DO NOTHING
       RETURNING id`,
    )
    .bind(
      m.deliveryId,
      m.edgeId,
      m.from,
      JSON.stringify(m.to),
      m.subject,
      m.messageId,
      m.size,
      m.sha256,
      m.r2Key,
      m.action,
      m.scl,
      JSON.stringify(m.agents),
      JSON.stringify(m.tags),
      m.receivedAt,
    );
}

export async function messageIdForDelivery(db: D1Database, deliveryId: string): Promise<number | null> {
  const row = await db.prepare("SELECT id FROM messages WHERE delivery_id = ?").bind(deliveryId).first<{ id: number }>();
  return row?.id ?? null;
}

/** A stored message with where its bytes are in the MAILBOX bucket. */
export type StoredMessage = MessageRecord & { r2Key: string };

const toStored = (row: MessageRow): StoredMessage => ({ ...toRecord(row), r2Key: row.r2_key });

export async function getMessage(db: D1Database, id: number): Promise<StoredMessage | null> {
  const row = await db.prepare("SELECT * FROM messages WHERE id = ?").bind(id).first<MessageRow>();
  return row === null ? null : toStored(row);
}

/** Messages a standby holds for its primary, in id order after `afterId` (keyset: a round walks past the ones it could not hand back). */
export async function listHeld(db: D1Database, limit: number, afterId = 0): Promise<StoredMessage[]> {
  const { results } = await db
    .prepare("SELECT * FROM messages WHERE standby_state = 'held' AND id > ? ORDER BY id LIMIT ?")
    .bind(afterId, limit)
    .all<MessageRow>();
  return results.map(toStored);
}

/** Which stored messages a list shows: delivered mail, the quarantine, or both. */
export type Folder = "inbox" | "quarantine" | "all";

/** Newest first; `before` is the id to continue below (cursor pagination). */
export async function listMessages(db: D1Database, limit: number, before: number | null, folder: Folder = "all"): Promise<MessageRecord[]> {
  const action = folder === "inbox" ? "accept" : folder === "quarantine" ? "quarantine" : null;
  const { results } = await db
    .prepare("SELECT * FROM messages WHERE id < ? AND (? IS NULL OR action = ?) ORDER BY id DESC LIMIT ?")
    .bind(before ?? Number.MAX_SAFE_INTEGER, action, action, limit)
    .all<MessageRow>();
  return results.map(toRecord);
}
