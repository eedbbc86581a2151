import { DurableObject } from "cloudflare:workers";
import { afterOutcome, breakerState, CLOSED, type BreakerRecord } from "../../shared/delivery/breaker.ts";
import type { HubHealth, HubHealthReport, HubOutcome } from "../../shared/delivery/health.ts";

/** Outcomes remembered per hub for operators (`GET /api/v1/hubs`). */
const RECENT_OUTCOMES = 20;

/** Longest error text kept per outcome, so a hub answering with a huge body cannot bloat the record. */
const MAX_ERROR_CHARS = 300;

/** Hubs one edge keeps health for: the policy allows 100; old ids beyond that are dropped. */
const MAX_TRACKED_HUBS = 200;

type Row = {
  hub_id: string;
  failures: number;
  opened_at: number | null;
  last_ok_at: number | null;
  last_failure_at: number | null;
  recent: string;
};

/**
 * One per edge deployment: the circuit breaker of every upstream hub, fed by delivery outcomes
 * from every isolate and by the cron's active probes. Isolates read it at most every few seconds
 * (workers/edge/hubs.ts) and report only outcomes that change something, so it stays off the
 * per-message path in steady state.
 */
export class HubHealthObject extends DurableObject<Env> {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(
      `CREATE TABLE IF NOT EXISTS hubs (hub_id TEXT PRIMARY KEY, failures INTEGER NOT NULL, opened_at INTEGER, last_ok_at INTEGER,
        last_failure_at INTEGER, recent TEXT NOT NULL)`,
    );
  }

  report(openSeconds: number, now = Date.now()): HubHealthReport {
    const rows = this.#sql.exec<Row>("SELECT * FROM hubs ORDER BY hub_id").toArray();
    return { edgeId: this.env.EDGE_ID, at: now, hubs: rows.map((r) => toHealth(r, openSeconds, now)) };
  }

  /** Applies outcomes in order (breaker transitions), returns the new report. */
  record(outcomes: HubOutcome[], threshold: number, openSeconds: number): HubHealthReport {
    for (const o of outcomes.slice(0, 1000)) {
      if (typeof o?.hubId !== "string" || o.hubId.length > 63) continue;
      const row = this.#sql.exec<Row>("SELECT * FROM hubs WHERE hub_id = ?", o.hubId).toArray()[0];
      const before: BreakerRecord = row ? { failures: row.failures, openedAt: row.opened_at } : CLOSED;
      // A probe's success closes at once; otherwise the breaker rules decide.
      const after = afterOutcome(before, o.ok, o.at, threshold, openSeconds);
      const recent = [{ ...o, error: o.error?.slice(0, MAX_ERROR_CHARS) }, ...(row ? (JSON.parse(row.recent) as HubOutcome[]) : [])].slice(0, RECENT_OUTCOMES);
      this.#sql.exec(
        `INSERT INTO hubs (hub_id, failures, opened_at, last_ok_at, last_failure_at, recent) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (hub_id) DO UPDATE SET failures = excluded.failures, opened_at = excluded.opened_at,
           last_ok_at = excluded.last_ok_at, last_failure_at = excluded.last_failure_at, recent = excluded.recent`,
        o.hubId,
        after.failures,
        after.openedAt,
        o.ok ? o.at : (row?.last_ok_at ?? null),
        o.ok ? (row?.last_failure_at ?? null) : o.at,
        JSON.stringify(recent),
      );
    }
    this.#sql.exec(
      `DELETE FROM hubs WHERE hub_id NOT IN (SELECT hub_id FROM hubs ORDER BY COALESCE(last_ok_at, last_failure_at) DESC LIMIT ?)`,
      MAX_TRACKED_HUBS,
    );
    return this.report(openSeconds);
  }

  /** Forgets a hub's record (an operator reset, or a hub removed from the policy). */
  forget(hubId: string): void {
    this.#sql.exec("DELETE FROM hubs WHERE hub_id = ?", hubId);
  }
}

function toHealth(r: Row, openSeconds: number, now: number): HubHealth {
  const record = { failures: r.failures, openedAt: r.opened_at };
  return {
    hubId: r.hub_id,
    ...record,
    state: breakerState(record, now, openSeconds),
    lastOkAt: r.last_ok_at,
    lastFailureAt: r.last_failure_at,
    recent: JSON.parse(r.recent) as HubOutcome[],
  };
}
