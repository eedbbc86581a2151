import { DurableObject } from "cloudflare:workers";
import { SPOOL_STATES, type SpoolActionResult, type SpoolItem, type SpoolPage, type SpoolState } from "../../shared/delivery/spool-api.ts";

/** How long a consumer owns an item it is attempting; a crashed consumer's claim lapses after this. */
export const SPOOL_CLAIM_MS = 90_000;

/**
 * How often the object checks for queued items whose queue message was lost (a queue gives up
 * after its retry limit; retention is days) and queues them again. Nothing in the spool can be
 * forgotten: an item leaves it only when a hub confirmed, it expired, or an operator deleted it.
 */
export const SPOOL_SWEEP_MS = 5 * 60_000;

/** Longest error text kept with an item. */
const MAX_ERROR_CHARS = 500;

/** Tombstones of deleted items are kept this long, for the audit trail. */
const TOMBSTONE_MS = 30 * 86_400_000;

type Row = {
  delivery_id: string;
  state: SpoolState;
  item: string;
  next_attempt_at: number | null;
  claimed_until: number;
  spooled_at: number;
};

export interface SpoolFailure {
  error: string;
  hubId: string | null;
  nextAttemptAt: number;
  delayNotifiedAt?: number;
}

/**
 * One per edge deployment: the index of its spool. The bytes live in R2 (workers/edge/spool.ts);
 * this object holds each item's state, gives one consumer at a time the right to attempt it, lists
 * it for the queue viewer, and sweeps for items whose queue message went missing.
 */
export class SpoolIndex extends DurableObject<Env> {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(
      `CREATE TABLE IF NOT EXISTS items (delivery_id TEXT PRIMARY KEY, state TEXT NOT NULL, item TEXT NOT NULL,
        next_attempt_at INTEGER, claimed_until INTEGER NOT NULL DEFAULT 0, spooled_at INTEGER NOT NULL)`,
    );
    this.#sql.exec(`CREATE INDEX IF NOT EXISTS items_by_state ON items (state, spooled_at, delivery_id)`);
  }

  /** Records a newly spooled item (idempotent: a second add of the same id changes nothing). */
  async add(item: SpoolItem): Promise<void> {
    this.#sql.exec(
      `INSERT OR IGNORE INTO items (delivery_id, state, item, next_attempt_at, spooled_at) VALUES (?, ?, ?, ?, ?)`,
      item.deliveryId,
      item.state,
      JSON.stringify(item),
      item.nextAttemptAt === null ? null : Date.parse(item.nextAttemptAt),
      Date.parse(item.spooledAt),
    );
    await this.#ensureAlarm();
  }

  get(deliveryId: string): SpoolItem | null {
    const row = this.#row(deliveryId);
    return row === null ? null : (JSON.parse(row.item) as SpoolItem);
  }

  /**
   * Gives the caller the right to attempt a queued item until SPOOL_CLAIM_MS from now. Null when
   * the item is gone, not queued (suspended, dead, deleted) or claimed by another consumer.
   */
  claim(deliveryId: string, now = Date.now()): SpoolItem | null {
    const row = this.#row(deliveryId);
    if (row === null || row.state !== "queued" || row.claimed_until > now) return null;
    this.#sql.exec("UPDATE items SET claimed_until = ? WHERE delivery_id = ?", now + SPOOL_CLAIM_MS, deliveryId);
    return JSON.parse(row.item) as SpoolItem;
  }

  /** A hub confirmed: the item leaves the spool (its bytes were deleted first). */
  delivered(deliveryId: string): void {
    this.#sql.exec("DELETE FROM items WHERE delivery_id = ?", deliveryId);
  }

  /** An attempt round failed: records it and releases the claim. */
  failed(deliveryId: string, failure: SpoolFailure): SpoolItem | null {
    return this.#update(deliveryId, (item) => {
      item.attempts += 1;
      item.lastError = failure.error.slice(0, MAX_ERROR_CHARS);
      item.lastHub = failure.hubId;
      item.nextAttemptAt = new Date(failure.nextAttemptAt).toISOString();
      if (failure.delayNotifiedAt !== undefined) item.delayNotifiedAt = new Date(failure.delayNotifiedAt).toISOString();
    });
  }

  /** Moves an item to the dead-letter state (its bytes were moved to the dead-letter prefix first). */
  dead(deliveryId: string, reason: string, now = Date.now()): SpoolItem | null {
    return this.#update(deliveryId, (item) => {
      item.state = "dead";
      item.reason = reason.slice(0, MAX_ERROR_CHARS);
      item.endedAt = new Date(now).toISOString();
      item.nextAttemptAt = null;
    });
  }

  /** Marks a queued or dead item for an immediate attempt; a dead one gets a fresh expiry. The caller queues it. */
  retry(deliveryId: string, expireAfterMs: number, now = Date.now()): SpoolActionResult {
    return this.#act(deliveryId, ["queued", "suspended", "dead"], (item) => {
      if (item.state === "dead") item.expiresAt = new Date(now + expireAfterMs).toISOString();
      item.state = "queued";
      item.reason = null;
      item.endedAt = null;
      item.nextAttemptAt = new Date(now).toISOString();
    });
  }

  suspend(deliveryId: string): SpoolActionResult {
    return this.#act(deliveryId, ["queued"], (item) => {
      item.state = "suspended";
      item.nextAttemptAt = null;
    });
  }

  resume(deliveryId: string, now = Date.now()): SpoolActionResult {
    return this.#act(deliveryId, ["suspended"], (item) => {
      item.state = "queued";
      item.nextAttemptAt = new Date(now).toISOString();
    });
  }

  /** Deletes for good (the caller removes the bytes); keeps a tombstone with the reason. */
  remove(deliveryId: string, reason: string, now = Date.now()): SpoolActionResult {
    return this.#act(deliveryId, ["queued", "suspended", "dead"], (item) => {
      item.state = "deleted";
      item.reason = reason.slice(0, MAX_ERROR_CHARS);
      item.endedAt = new Date(now).toISOString();
      item.nextAttemptAt = null;
    });
  }

  list(query: { state?: SpoolState; cursor?: string; limit?: number }): SpoolPage {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 500);
    const [afterAt, afterId] = decodeCursor(query.cursor);
    const state = query.state ?? "queued";
    const rows = this.#sql
      .exec<Row>(
        `SELECT * FROM items WHERE state = ? AND (spooled_at > ? OR (spooled_at = ? AND delivery_id > ?)) ORDER BY spooled_at, delivery_id LIMIT ?`,
        state,
        afterAt,
        afterAt,
        afterId,
        limit + 1,
      )
      .toArray();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const counts = Object.fromEntries(SPOOL_STATES.map((s) => [s, 0])) as Record<SpoolState, number>;
    for (const c of this.#sql.exec<{ state: SpoolState; n: number }>("SELECT state, COUNT(*) AS n FROM items GROUP BY state")) counts[c.state] = c.n;
    const oldest = this.#sql.exec<{ at: number | null }>("SELECT MIN(spooled_at) AS at FROM items WHERE state = 'queued'").one().at;
    return {
      items: page.map((r) => JSON.parse(r.item) as SpoolItem),
      nextCursor: rows.length > limit && last ? `${last.spooled_at}:${last.delivery_id}` : null,
      counts,
      oldestQueuedAt: oldest === null ? null : new Date(oldest).toISOString(),
    };
  }

  /** The sweep: queues again every queued item that is due and unclaimed (its queue message may be lost), and prunes old tombstones. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const due = this.#sql
      .exec<{ delivery_id: string }>(
        "SELECT delivery_id FROM items WHERE state = 'queued' AND claimed_until < ? AND COALESCE(next_attempt_at, 0) < ? LIMIT 1000",
        now,
        now - SPOOL_SWEEP_MS,
      )
      .toArray();
    for (let i = 0; i < due.length; i += 100) {
      await this.env.SPOOL_QUEUE.sendBatch(due.slice(i, i + 100).map((r) => ({ body: { deliveryId: r.delivery_id } })));
    }
    this.#sql.exec("DELETE FROM items WHERE state = 'deleted' AND spooled_at < ?", now - TOMBSTONE_MS);
    await this.#ensureAlarm(true);
  }

  async #ensureAlarm(force = false): Promise<void> {
    if (force || (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + SPOOL_SWEEP_MS);
  }

  #row(deliveryId: string): Row | null {
    return this.#sql.exec<Row>("SELECT * FROM items WHERE delivery_id = ?", deliveryId).toArray()[0] ?? null;
  }

  #update(deliveryId: string, change: (item: SpoolItem) => void): SpoolItem | null {
    const row = this.#row(deliveryId);
    if (row === null) return null;
    const item = JSON.parse(row.item) as SpoolItem;
    change(item);
    this.#sql.exec(
      "UPDATE items SET state = ?, item = ?, next_attempt_at = ?, claimed_until = 0 WHERE delivery_id = ?",
      item.state,
      JSON.stringify(item),
      item.nextAttemptAt === null ? null : Date.parse(item.nextAttemptAt),
      deliveryId,
    );
    return item;
  }

  #act(deliveryId: string, from: SpoolState[], change: (item: SpoolItem) => void): SpoolActionResult {
    const row = this.#row(deliveryId);
    if (row === null) return { ok: false, error: "not_found", message: `no spooled message with delivery id ${deliveryId}` };
    if (!from.includes(row.state)) return { ok: false, error: "conflict", message: `the message is ${row.state}; this needs ${from.join(" or ")}` };
    return { ok: true, item: this.#update(deliveryId, change)! };
  }
}

function decodeCursor(cursor: string | undefined): [number, string] {
  const m = /^(\d{1,15}):([0-9a-f-]{36})$/.exec(cursor ?? "");
  return m ? [Number(m[1]), m[2]!] : [-1, ""];
}
