/**
 * The passive circuit breaker kept per upstream hub, as pure functions over a small record so the
 * same rules run in the health Durable Object and in each isolate's cached copy.
 *
 *   closed ──N consecutive failures──▶ open ──openSeconds pass──▶ half-open
 *      ▲                                 ▲                            │
 *      └────────── a success ────────────┼──── a failure ─────────────┘
 *
 * Half-open is not stored: an open breaker whose time is up reads as half-open, and the next
 * attempt (a delivery or the cron's active probe) decides. An active probe's success closes the
 * breaker at once; its failure counts like a delivery failure.
 */
export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerRecord {
  /** Consecutive failures since the last success. */
  failures: number;
  /** Epoch ms the breaker opened, or null while closed. */
  openedAt: number | null;
}

export const CLOSED: Readonly<BreakerRecord> = { failures: 0, openedAt: null };

export function breakerState(record: BreakerRecord, now: number, openSeconds: number): BreakerState {
  if (record.openedAt === null) return "closed";
  return now - record.openedAt >= openSeconds * 1000 ? "half-open" : "open";
}

/** The record after one outcome. `threshold`: consecutive failures that open a closed breaker. */
export function afterOutcome(record: BreakerRecord, ok: boolean, now: number, threshold: number, openSeconds: number): BreakerRecord {
  if (ok) return { failures: 0, openedAt: null };
  const failures = record.failures + 1;
  const state = breakerState(record, now, openSeconds);
  // A failed half-open probe re-opens for another full period; an open breaker stays open.
  if (state === "half-open") return { failures, openedAt: now };
  if (state === "open") return { failures, openedAt: record.openedAt };
  return { failures, openedAt: failures >= threshold ? now : null };
}
