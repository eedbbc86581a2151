import type { Role } from "./roles.ts";

/** One change made through the admin API. */
export interface AuditEntry {
  id: number;
  at: string;
  actor: { id: string; name: string; role: Role; accessIdentity: string | null };
  method: string;
  /** The request path, recipient addresses masked. */
  path: string;
  summary: string;
  objectId: string | null;
  status: number;
}

export type NewAuditEntry = Omit<AuditEntry, "id">;

interface AuditRow {
  id: number;
  at: string;
  actor_id: string;
  actor_name: string;
  actor_role: Role;
  access_identity: string | null;
  method: string;
  path: string;
  summary: string;
  object_id: string | null;
  status: number;
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: { id: row.actor_id, name: row.actor_name, role: row.actor_role, accessIdentity: row.access_identity },
    method: row.method,
    path: row.path,
    summary: row.summary,
    objectId: row.object_id,
    status: row.status,
  };
}

export async function insertAudit(db: D1Database, e: NewAuditEntry): Promise<void> {
  await db
    .prepare(
      "INSERT INTO audit_log (at, actor_id, actor_name, actor_role, access_identity, method, path, summary, object_id, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.at, e.actor.id, e.actor.name, e.actor.role, e.actor.accessIdentity, e.method, e.path, e.summary, e.objectId, e.status)
    .run();
}

export interface AuditQuery {
  /** Entries at or after this time (ISO 8601). */
  since: string | null;
  /** Entries before this time (ISO 8601). */
  until: string | null;
  /** A token id or a token name. */
  actor: string | null;
  /** Continue below this entry id (cursor pagination, newest first). */
  before: number | null;
  limit: number;
}

/** Audit entries newest first. */
export async function listAudit(db: D1Database, q: AuditQuery): Promise<AuditEntry[]> {
  const { results } = await db
    .prepare(
      `SELECT * FROM audit_log
       WHERE id < ? AND (? IS NULL OR at >= ?) AND (? IS NULL OR at < ?) AND (? IS NULL OR actor_id = ? OR actor_name = ?)
       ORDER BY id DESC LIMIT ?`,
    )
    .bind(q.before ?? Number.MAX_SAFE_INTEGER, q.since, q.since, q.until, q.until, q.actor, q.actor, q.actor, q.limit)
    .all<AuditRow>();
  return results.map(toEntry);
}
