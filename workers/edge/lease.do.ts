import { DurableObject } from "cloudflare:workers";
import type { CommitResult, DirectoryVersion, LeaseInfo, LeaseRefusal, LeaseResult, RenewResult } from "../../shared/directory/publish-api.ts";

/** How many committed versions the object remembers, for operators comparing recent history. */
const VERSION_HISTORY = 20;

/** Longest lease a hub may take: a hub that dies holding it blocks the edge at most this long. */
export const MAX_LEASE_MS = 5 * 60_000;

interface LeaseRow {
  holder: string;
  token: number;
  expires_at: number;
}

/**
 * One per edge deployment (the ADAM partition's lock and version, in Exchange terms): the pointer
 * to the directory version the edge enforces, and the lease a hub must hold to change it.
 *
 * Every method runs without awaiting I/O between its check and its write, so the object's input
 * gate makes each one atomic: two hubs can never both hold the lease or both commit, and a commit
 * is a single row insert, so readers see the old version or the new one — never a mix.
 */
export class DirectoryLease extends DurableObject<Env> {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS versions (version INTEGER PRIMARY KEY, root TEXT NOT NULL, committed_at TEXT NOT NULL)`);
    // One row (id = 1): the current lease. The fencing counter lives apart so it survives releases.
    this.#sql.exec(
      `CREATE TABLE IF NOT EXISTS lease (id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL, token INTEGER NOT NULL, expires_at INTEGER NOT NULL)`,
    );
    // last_ended: how the last token's lease ended ('released' or 'expired'), for precise refusals.
    // Nonces of signed EdgeSync requests seen within the signature window (replay protection).
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)`);
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS fencing (id INTEGER PRIMARY KEY CHECK (id = 1), last_token INTEGER NOT NULL, last_ended TEXT)`);
  }

  current(): DirectoryVersion | null {
    const row = this.#sql
      .exec<{ version: number; root: string; committed_at: string }>("SELECT version, root, committed_at FROM versions ORDER BY version DESC LIMIT 1")
      .toArray()[0];
    return row === undefined ? null : { version: row.version, root: row.root, committedAt: row.committed_at };
  }

  /** The live lease, if any (an expired one counts as none). */
  lease(now = Date.now()): LeaseInfo | null {
    const row = this.#lease();
    return row === null || row.expires_at <= now ? null : { holder: row.holder, expiresAt: row.expires_at };
  }

  async acquire(holder: string, ttlMs: number): Promise<LeaseResult> {
    if (typeof holder !== "string" || holder.length === 0 || holder.length > 200) throw new Error("holder must be a non-empty id");
    const ttl = checkTtl(ttlMs);
    const now = Date.now();
    const row = this.#lease();
    if (row !== null && row.expires_at > now && row.holder !== holder) return { ok: false, busy: true, holder: row.holder, expiresAt: row.expires_at };
    // A new token every time, even for the same holder: an older attempt of its own is fenced off too.
    const last = this.#sql.exec<{ last_token: number }>("SELECT last_token FROM fencing WHERE id = 1").toArray()[0]?.last_token ?? 0;
    const token = last + 1;
    const expiresAt = now + ttl;
    this.#sql.exec(
      "INSERT INTO fencing (id, last_token, last_ended) VALUES (1, ?, NULL) ON CONFLICT (id) DO UPDATE SET last_token = excluded.last_token, last_ended = NULL",
      token,
    );
    this.#sql.exec(
      "INSERT INTO lease (id, holder, token, expires_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, token = excluded.token, expires_at = excluded.expires_at",
      holder,
      token,
      expiresAt,
    );
    await this.ctx.storage.setAlarm(expiresAt);
    return { ok: true, token, expiresAt };
  }

  async renew(token: number, ttlMs: number): Promise<RenewResult> {
    const ttl = checkTtl(ttlMs);
    const refusal = this.check(token);
    if (refusal !== null) return { ok: false, reason: refusal };
    const expiresAt = Date.now() + ttl;
    this.#sql.exec("UPDATE lease SET expires_at = ? WHERE id = 1", expiresAt);
    await this.ctx.storage.setAlarm(expiresAt);
    return { ok: true, expiresAt };
  }

  /**
   * Null when `token` holds a live lease; otherwise why not: `stale_token` (a newer lease was
   * granted since), `expired` (this token's lease ran out), `no_lease` (released, or never issued).
   */
  check(token: number, now = Date.now()): LeaseRefusal | null {
    const fencing = this.#sql.exec<{ last_token: number; last_ended: string | null }>("SELECT last_token, last_ended FROM fencing WHERE id = 1").toArray()[0];
    if (fencing !== undefined && token < fencing.last_token) return "stale_token";
    const row = this.#lease();
    if (row === null || row.token !== token) return fencing?.last_token === token && fencing.last_ended === "expired" ? "expired" : "no_lease";
    if (row.expires_at <= now) return "expired";
    return null;
  }

  /** Makes `root` the current version, if `token` still holds the lease. Committing the current root again is a no-op. */
  commit(token: number, root: string): CommitResult {
    if (!/^[0-9a-f]{64}$/.test(root)) throw new Error("root must be a SHA-256 hex digest");
    const refusal = this.check(token);
    if (refusal !== null) return { ok: false, reason: refusal };
    const now = this.current();
    if (now !== null && now.root === root) return { ok: true, version: now };
    const next: DirectoryVersion = { version: (now?.version ?? 0) + 1, root, committedAt: new Date().toISOString() };
    this.#sql.exec("INSERT INTO versions (version, root, committed_at) VALUES (?, ?, ?)", next.version, next.root, next.committedAt);
    this.#sql.exec("DELETE FROM versions WHERE version <= ?", next.version - VERSION_HISTORY);
    return { ok: true, version: next };
  }

  release(token: number): boolean {
    const row = this.#lease();
    if (row === null || row.token !== token) return false;
    this.#end("released");
    return true;
  }

  /** Records a signed request's nonce; false when it was already seen (a replay). */
  rememberNonce(nonce: string, keepUntil: number): boolean {
    this.#sql.exec("DELETE FROM nonces WHERE expires_at < ?", Date.now());
    const seen = this.#sql.exec("SELECT 1 FROM nonces WHERE nonce = ?", nonce).toArray().length > 0;
    if (seen) return false;
    this.#sql.exec("INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)", nonce, keepUntil);
    return true;
  }

  /** Clears an expired lease (a hub that died holding it); re-arms if the lease was renewed meanwhile. */
  override async alarm(): Promise<void> {
    const row = this.#lease();
    if (row === null) return;
    if (row.expires_at <= Date.now()) this.#end("expired");
    else await this.ctx.storage.setAlarm(row.expires_at);
  }

  #end(how: "released" | "expired"): void {
    this.#sql.exec("DELETE FROM lease WHERE id = 1");
    this.#sql.exec("UPDATE fencing SET last_ended = ? WHERE id = 1", how);
  }

  #lease(): LeaseRow | null {
    return (
      this.#sql.exec<{ holder: string; token: number; expires_at: number }>("SELECT holder, token, expires_at FROM lease WHERE id = 1").toArray()[0] ?? null
    );
  }
}

function checkTtl(ttlMs: number): number {
  if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_LEASE_MS) throw new Error(`ttlMs must be an integer from 1 to ${MAX_LEASE_MS}`);
  return ttlMs;
}
