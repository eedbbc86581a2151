/**
 * Remembers the nonce of an accepted signed request until `expiresAt` (ISO 8601). Returns false
 * when the nonce is already remembered (a replay). A row past its expiry that the cron has not yet
 * pruned counts as gone, so reuse after expiry is judged by time alone.
 */
export async function rememberNonce(db: D1Database, nonce: string, expiresAt: string, now: string): Promise<boolean> {
  const row = await db
    .prepare(
      `INSERT INTO request_nonces (nonce, expires_at) VALUES (?, ?)
       ON CONFLICT (nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE request_nonces.expires_at <= ?
       RETURNING nonce`,
    )
    .bind(nonce, expiresAt, now)
    .first<{ nonce: string }>();
  return row !== null;
}

/** Deletes nonces whose signatures can no longer be replayed; returns how many. */
export async function pruneNonces(db: D1Database, now: string): Promise<number> {
  const result = await db.prepare("DELETE FROM request_nonces WHERE expires_at <= ?").bind(now).run();
  return result.meta.changes;
}
