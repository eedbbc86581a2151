import { DurableObject } from "cloudflare:workers";
import { IDEMPOTENCY_LEASE_MS, IDEMPOTENCY_TTL_MS, MAX_IDEMPOTENT_ANSWER_BYTES } from "../../../shared/relay/limits.ts";

/** What the limiter says about one submission. */
export type Admission =
  /** Go ahead: a token was taken (and the idempotency key, if any, is held for this submission). */
  | { kind: "go" }
  /** This key was answered before, for the same request: answer the same again. Costs no token. */
  | { kind: "replay"; status: number; body: string }
  /** This key is held by a submission still running (409). */
  | { kind: "busy"; retryAfter: number }
  /** This key was used for a different request (422). */
  | { kind: "mismatch" }
  /** Over the client's rate (429). */
  | { kind: "limited"; retryAfter: number };

export interface AdmitRequest {
  /** The client's rate; also the bucket's size (a client may send a minute's worth at once). */
  ratePerMinute: number;
  idempotencyKey: string | null;
  /** SHA-256 of the request (type, query, body): the same key with another request is refused. */
  fingerprint: string;
}

type KeyRow = { key: string; fingerprint: string; state: "pending" | "done"; status: number | null; body: string | null; expires_ms: number };

/**
 * One per relay client (named by the client's id), shared by every edge location: the client's
 * token bucket and its idempotency keys. Every method runs without awaiting anything, so each
 * check-and-write is atomic: two requests can never both take the last token, or both take one
 * key.
 *
 * The bucket holds `ratePerMinute` tokens and refills continuously at that rate; a submission
 * takes one. An idempotency key is held ("pending") while its submission runs, for at most
 * IDEMPOTENCY_LEASE_MS (a crashed submission frees it by expiry), then keeps the answer
 * ("done") for IDEMPOTENCY_TTL_MS. An alarm deletes expired keys.
 */
export class RelayLimiter extends DurableObject<Env> {
  readonly #sql: SqlStorage;
  #alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS bucket (id INTEGER PRIMARY KEY CHECK (id = 1), tokens REAL NOT NULL, updated_ms INTEGER NOT NULL)`);
    this.#sql.exec(
      `CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL, status INTEGER, body TEXT,
        expires_ms INTEGER NOT NULL)`,
    );
    void ctx.blockConcurrencyWhile(async () => {
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  admit(request: AdmitRequest, now = Date.now()): Admission {
    const key = request.idempotencyKey;
    if (key !== null) {
      const row = this.#sql.exec<KeyRow>("SELECT * FROM idempotency WHERE key = ?", key).toArray()[0];
      if (row !== undefined && row.expires_ms > now) {
        if (row.fingerprint !== request.fingerprint) return { kind: "mismatch" };
        if (row.state === "done") return { kind: "replay", status: row.status ?? 200, body: row.body ?? "{}" };
        return { kind: "busy", retryAfter: Math.max(1, Math.ceil((row.expires_ms - now) / 1000)) };
      }
    }
    const rate = Math.max(1, request.ratePerMinute);
    const perMs = rate / 60_000;
    const bucket = this.#sql.exec<{ tokens: number; updated_ms: number }>("SELECT tokens, updated_ms FROM bucket").toArray()[0];
    // A client whose rate was lowered keeps no more than its new bucket holds.
    let tokens = bucket === undefined ? rate : Math.min(rate, bucket.tokens + Math.max(0, now - bucket.updated_ms) * perMs);
    const limited = tokens < 1;
    if (!limited) tokens -= 1;
    this.#sql.exec(
      "INSERT INTO bucket (id, tokens, updated_ms) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET tokens = excluded.tokens, updated_ms = excluded.updated_ms",
      tokens,
      now,
    );
    if (limited) return { kind: "limited", retryAfter: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) };
    if (key !== null) {
      const expires = now + IDEMPOTENCY_LEASE_MS;
      this.#sql.exec(
        `INSERT INTO idempotency (key, fingerprint, state, status, body, expires_ms) VALUES (?, ?, 'pending', NULL, NULL, ?)
         ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'pending', status = NULL, body = NULL, expires_ms = excluded.expires_ms`,
        key,
        request.fingerprint,
        expires,
      );
      this.#wakeBy(expires);
    }
    return { kind: "go" };
  }

  /** Keeps the answer of a finished submission for its key (a retry gets it again). */
  complete(key: string, fingerprint: string, status: number, body: string, now = Date.now()): boolean {
    if (new TextEncoder().encode(body).length > MAX_IDEMPOTENT_ANSWER_BYTES) return false;
    const expires = now + IDEMPOTENCY_TTL_MS;
    const changed = this.#sql.exec(
      "UPDATE idempotency SET state = 'done', status = ?, body = ?, expires_ms = ? WHERE key = ? AND fingerprint = ?",
      status,
      body,
      expires,
      key,
      fingerprint,
    ).rowsWritten;
    if (changed > 0) this.#wakeBy(expires);
    return changed > 0;
  }

  /** Frees a key whose submission sent nothing (refused or failed): a retry runs it again. */
  release(key: string, fingerprint: string): void {
    this.#sql.exec("DELETE FROM idempotency WHERE key = ? AND fingerprint = ? AND state = 'pending'", key, fingerprint);
  }

  /** Deletes expired keys, and wakes again for the next one to expire. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    this.#sql.exec("DELETE FROM idempotency WHERE expires_ms <= ?", now);
    const next = this.#sql.exec<{ next: number | null }>("SELECT MIN(expires_ms) AS next FROM idempotency").toArray()[0]?.next ?? null;
    this.#alarmAt = null;
    if (next !== null) this.#wakeBy(next);
  }

  #wakeBy(at: number): void {
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }
}
