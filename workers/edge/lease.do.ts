import { DurableObject } from "cloudflare:workers";
import type { DirectoryVersion } from "../../shared/directory/publish-api.ts";

/** How many committed versions the object remembers, for operators comparing recent history. */
const VERSION_HISTORY = 20;

/**
 * One per edge deployment: the pointer to the directory version the edge enforces. A commit is a
 * single synchronous SQLite write, so readers see either the old version or the new one — never
 * a partial snapshot (the blobs it names are written before the commit).
 */
export class DirectoryLease extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS versions (
         version INTEGER PRIMARY KEY,
         root TEXT NOT NULL,
         committed_at TEXT NOT NULL
       )`,
    );
  }

  current(): DirectoryVersion | null {
    const row = this.ctx.storage.sql
      .exec<{ version: number; root: string; committed_at: string }>("SELECT version, root, committed_at FROM versions ORDER BY version DESC LIMIT 1")
      .toArray()[0];
    return row === undefined ? null : { version: row.version, root: row.root, committedAt: row.committed_at };
  }

  /** Makes `root` the current version. Committing the current root again is a no-op. */
  commit(root: string): DirectoryVersion {
    if (!/^[0-9a-f]{64}$/.test(root)) throw new Error("root must be a SHA-256 hex digest");
    const now = this.current();
    if (now !== null && now.root === root) return now;
    const next: DirectoryVersion = { version: (now?.version ?? 0) + 1, root, committedAt: new Date().toISOString() };
    this.ctx.storage.sql.exec("INSERT INTO versions (version, root, committed_at) VALUES (?, ?, ?)", next.version, next.root, next.committedAt);
    this.ctx.storage.sql.exec("DELETE FROM versions WHERE version <= ?", next.version - VERSION_HISTORY);
    return next;
  }
}
