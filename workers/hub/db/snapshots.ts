/** Snapshots this hub built (the blobs themselves are in R2). */
export interface SnapshotRow {
  root: string;
  baseSeq: number;
  throughSeq: number;
  recipients: number;
  overlayEntries: number;
  createdAt: string;
}

/** Built snapshots kept in the table; older rows are pruned (their blobs may still be on edges). */
const SNAPSHOT_HISTORY = 50;

interface Row {
  root: string;
  base_seq: number;
  through_seq: number;
  recipients: number;
  overlay_entries: number;
  created_at: string;
}

const toSnapshot = (r: Row): SnapshotRow => ({
  root: r.root,
  baseSeq: r.base_seq,
  throughSeq: r.through_seq,
  recipients: r.recipients,
  overlayEntries: r.overlay_entries,
  createdAt: r.created_at,
});

export async function latestSnapshot(db: D1Database): Promise<SnapshotRow | null> {
  const row = await db.prepare("SELECT * FROM snapshots ORDER BY through_seq DESC, created_at DESC LIMIT 1").first<Row>();
  return row === null ? null : toSnapshot(row);
}

export async function recordSnapshot(db: D1Database, s: Omit<SnapshotRow, "createdAt">): Promise<void> {
  await db.batch([
    db
      .prepare(
        "INSERT INTO snapshots (root, base_seq, through_seq, recipients, overlay_entries) VALUES (?, ?, ?, ?, ?) ON CONFLICT (root) DO UPDATE SET through_seq = MAX(through_seq, excluded.through_seq)",
      )
      .bind(s.root, s.baseSeq, s.throughSeq, s.recipients, s.overlayEntries),
    db
      .prepare("DELETE FROM snapshots WHERE root NOT IN (SELECT root FROM snapshots ORDER BY through_seq DESC, created_at DESC LIMIT ?)")
      .bind(SNAPSHOT_HISTORY),
  ]);
}
