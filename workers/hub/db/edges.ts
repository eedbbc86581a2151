/** An edge this hub keeps in sync, and how the last attempt went. */
export interface EdgeRecord {
  id: string;
  transport: "binding" | "https";
  binding: string | null;
  url: string | null;
  createdAt: string;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastRoot: string | null;
  lastVersion: number | null;
  lastError: string | null;
  /** KV writes (blobs) and bytes of the last sync that committed a new version. */
  lastBlobsWritten: number | null;
  lastBytesWritten: number | null;
  leaseHolder: string | null;
  leaseExpiresAt: string | null;
}

interface Row {
  id: string;
  transport: "binding" | "https";
  binding: string | null;
  url: string | null;
  created_at: string;
  last_attempt_at: string | null;
  last_success_at: string | null;
  last_root: string | null;
  last_version: number | null;
  last_error: string | null;
  last_blobs_written: number | null;
  last_bytes_written: number | null;
  lease_holder: string | null;
  lease_expires_at: string | null;
}

const toRecord = (r: Row): EdgeRecord => ({
  id: r.id,
  transport: r.transport,
  binding: r.binding,
  url: r.url,
  createdAt: r.created_at,
  lastAttemptAt: r.last_attempt_at,
  lastSuccessAt: r.last_success_at,
  lastRoot: r.last_root,
  lastVersion: r.last_version,
  lastError: r.last_error,
  lastBlobsWritten: r.last_blobs_written,
  lastBytesWritten: r.last_bytes_written,
  leaseHolder: r.lease_holder,
  leaseExpiresAt: r.lease_expires_at,
});

export async function listEdges(db: D1Database): Promise<EdgeRecord[]> {
  return (await db.prepare("SELECT * FROM edges ORDER BY id").all<Row>()).results.map(toRecord);
}

export async function getEdge(db: D1Database, id: string): Promise<EdgeRecord | null> {
  const row = await db.prepare("SELECT * FROM edges WHERE id = ?").bind(id).first<Row>();
  return row === null ? null : toRecord(row);
}

/** Registers an edge or changes how it is reached; returns true when it is new. */
export async function putEdge(db: D1Database, e: { id: string; transport: "binding" | "https"; binding: string | null; url: string | null }): Promise<boolean> {
  const existed = (await getEdge(db, e.id)) !== null;
  await db
    .prepare(
      "INSERT INTO edges (id, transport, binding, url) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET transport = excluded.transport, binding = excluded.binding, url = excluded.url",
    )
    .bind(e.id, e.transport, e.binding, e.url)
    .run();
  return !existed;
}

export async function deleteEdge(db: D1Database, id: string): Promise<boolean> {
  const result = await db.prepare("DELETE FROM edges WHERE id = ?").bind(id).run();
  return result.meta.changes > 0;
}

/** Records one sync attempt's outcome. */
export async function recordAttempt(
  db: D1Database,
  id: string,
  outcome: {
    success: boolean;
    root?: string;
    version?: number;
    /** Only for a sync that committed a new version. */
    written?: { blobs: number; bytes: number };
    error?: string | null;
    leaseHolder?: string | null;
    leaseExpiresAt?: number | null;
  },
): Promise<void> {
  const now = new Date().toISOString();
  await db
    .prepare(
      `UPDATE edges SET last_attempt_at = ?,
         last_success_at = CASE WHEN ? THEN ? ELSE last_success_at END,
         last_root = COALESCE(?, last_root), last_version = COALESCE(?, last_version),
         last_blobs_written = COALESCE(?, last_blobs_written), last_bytes_written = COALESCE(?, last_bytes_written),
         last_error = ?, lease_holder = ?, lease_expires_at = ?
       WHERE id = ?`,
    )
    .bind(
      now,
      outcome.success ? 1 : 0,
      now,
      outcome.root ?? null,
      outcome.version ?? null,
      outcome.written?.blobs ?? null,
      outcome.written?.bytes ?? null,
      outcome.error ?? null,
      outcome.leaseHolder ?? null,
      outcome.leaseExpiresAt === null || outcome.leaseExpiresAt === undefined ? null : new Date(outcome.leaseExpiresAt).toISOString(),
      id,
    )
    .run();
}
