/** The backup_state table: small named JSON values of the backup and standby machinery. */

export async function readState<T>(db: D1Database, name: string): Promise<T | null> {
  const row = await db.prepare("SELECT value FROM backup_state WHERE name = ?").bind(name).first<{ value: string }>();
  return row === null ? null : (JSON.parse(row.value) as T);
}

export function writeStateStatement(db: D1Database, name: string, value: unknown): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO backup_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    )
    .bind(name, JSON.stringify(value));
}

export async function writeState(db: D1Database, name: string, value: unknown): Promise<void> {
  await writeStateStatement(db, name, value).run();
}
