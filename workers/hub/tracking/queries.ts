import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../../../shared/limits.ts";
import { ApiError } from "../api/errors.ts";
import { DECISION_OUTCOMES, normalizeMessageId, type TrackingEvent } from "./event.ts";
import { TRACKING_MAX_FLOW_BUCKETS, TRACKING_MAX_TRACE } from "./limits.ts";

export type { TrackingEvent } from "./event.ts";

/** What a tracking search can ask for; every field is optional and they combine with AND. */
export interface TrackingSearch {
  /** The Message-ID header, with or without angle brackets. */
  messageId?: string;
  /** The envelope sender (case-insensitive); "" finds the null sender. */
  sender?: string;
  /** One envelope recipient (case-insensitive). */
  recipient?: string;
  /** ISO 8601; events at or after it. */
  since?: string;
  /** ISO 8601; events before it. */
  until?: string;
  outcome?: string;
  deliveryId?: string;
  /** From the previous page's `nextCursor`. */
  cursor?: string;
  /** 1…500, default 50. */
  limit?: number;
}

export interface TrackingPage {
  items: TrackingEvent[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** One bucket of the mail flow chart: decision events by outcome, starting at `at`. */
export interface FlowBucket {
  at: string;
  accepted: number;
  rejected: number;
  quarantined: number;
  spooled: number;
  tempfailed: number;
}

interface EventRow {
  seq: number;
  event_id: string;
  at: string;
  edge_id: string;
  kind: TrackingEvent["kind"];
  delivery_id: string | null;
  message_id: string | null;
  sender: string;
  recipients: string;
  action: string | null;
  outcome: TrackingEvent["outcome"];
  smtp: string | null;
  scl: number | null;
  agents: string;
  hub_id: string | null;
  attempts: string;
  round: number | null;
  size: number | null;
  detail: string | null;
  latency_ms: number | null;
}

const EVENT_COLUMNS =
  "e.seq, e.event_id, e.at, e.edge_id, e.kind, e.delivery_id, e.message_id, e.sender, e.recipients, e.action, e.outcome, e.smtp, e.scl, e.agents, e.hub_id, e.attempts, e.round, e.size, e.detail, e.latency_ms";

function toEvent(row: EventRow): TrackingEvent {
  return {
    eventId: row.event_id,
    at: row.at,
    edgeId: row.edge_id,
    kind: row.kind,
    deliveryId: row.delivery_id,
    messageId: row.message_id,
    sender: row.sender,
    recipients: JSON.parse(row.recipients) as string[],
    action: row.action,
    outcome: row.outcome,
    smtp: row.smtp,
    scl: row.scl,
    agents: JSON.parse(row.agents) as TrackingEvent["agents"],
    hubId: row.hub_id,
    attempts: JSON.parse(row.attempts) as TrackingEvent["attempts"],
    round: row.round,
    size: row.size,
    detail: row.detail,
    latencyMs: row.latency_ms,
  };
}

/** An ISO 8601 time as stored (UTC, milliseconds), so text comparison is time order; 400 when unreadable. */
export function isoTime(raw: string, name: string): string {
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) throw new ApiError(400, "bad_request", `${name} must be an ISO 8601 time`);
  return new Date(ms).toISOString();
}

/** Cursors are opaque: base64url of the last event's time and sequence number. */
function encodeCursor(at: string, seq: number): string {
  return btoa(`t:${at}|${seq}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeCursor(cursor: string): { at: string; seq: number } {
  let text = "";
  try {
    text = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    // falls through to the check below
  }
  const m = /^t:(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|(\d{1,15})$/.exec(text);
  if (m === null) throw new ApiError(400, "bad_request", "cursor is not valid");
  return { at: m[1]!, seq: Number(m[2]) };
}

/**
 * Tracking events matching every given field, newest first, a page at a time. A recipient search
 * walks the event × recipient table by its index; the others use the index on their column.
 *
 * @example
 * const { items, nextCursor } = await searchEvents(env.DB, { recipient: "alice@example.com", since: "2026-11-20T00:00:00Z", limit: 50 });
 */
export async function searchEvents(db: D1Database, q: TrackingSearch): Promise<TrackingPage> {
  const limit = q.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE)
    throw new ApiError(400, "bad_request", `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  const where: string[] = [];
  const params: unknown[] = [];
  let from = "tracking_events e";
  // The time and order columns of the table the search walks: the recipient table carries both.
  let at = "e.at";
  let seq = "e.seq";
  if (q.recipient !== undefined) {
    from = "tracking_recipients r JOIN tracking_events e ON e.seq = r.event_seq";
    at = "r.at";
    seq = "r.event_seq";
    where.push("r.recipient = ?");
    params.push(q.recipient.trim());
  }
  if (q.messageId !== undefined) {
    where.push("e.message_id = ?");
    params.push(normalizeMessageId(q.messageId));
  }
  if (q.sender !== undefined) {
    where.push("e.sender = ?");
    params.push(q.sender.trim());
  }
  if (q.outcome !== undefined) {
    where.push("e.outcome = ?");
    params.push(q.outcome);
  }
  if (q.deliveryId !== undefined) {
    where.push("e.delivery_id = ?");
    params.push(q.deliveryId.toLowerCase());
  }
  if (q.since !== undefined) {
    where.push(`${at} >= ?`);
    params.push(isoTime(q.since, "since"));
  }
  if (q.until !== undefined) {
    where.push(`${at} < ?`);
    params.push(isoTime(q.until, "until"));
  }
  if (q.cursor !== undefined && q.cursor !== "") {
    const after = decodeCursor(q.cursor);
    where.push(`(${at} < ? OR (${at} = ? AND ${seq} < ?))`);
    params.push(after.at, after.at, after.seq);
  }
  const sql = `SELECT ${EVENT_COLUMNS} FROM ${from}` + (where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "") + ` ORDER BY ${at} DESC, ${seq} DESC LIMIT ?`;
  // One row more than the page: whether it exists says if there is a next page.
  const { results } = await db
    .prepare(sql)
    .bind(...params, limit + 1)
    .all<EventRow>();
  const page = results.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(toEvent), nextCursor: results.length > limit && last !== undefined ? encodeCursor(last.at, last.seq) : null };
}

/**
 * Every event of one delivery, oldest first: the message's trace from the decision at the edge
 * through delivery rounds, the spool and notifications (at most TRACKING_MAX_TRACE).
 */
export async function deliveryTrace(db: D1Database, deliveryId: string): Promise<TrackingEvent[]> {
  const { results } = await db
    .prepare(`SELECT ${EVENT_COLUMNS} FROM tracking_events e WHERE e.delivery_id = ? ORDER BY e.at, e.seq LIMIT ?`)
    .bind(deliveryId.toLowerCase(), TRACKING_MAX_TRACE)
    .all<EventRow>();
  return results.map(toEvent);
}

/**
 * Decision events per time bucket and outcome, for the mail flow chart. Buckets are aligned to
 * multiples of `bucketMinutes` since the epoch (UTC) and each is labelled with its start; every
 * bucket from the one holding `since` to the one holding the last instant before `until` is
 * present, empty ones with zeros. The first and last bucket may be partial.
 *
 * @example
 * const now = Date.now();
 * await mailFlow(env.DB, { since: new Date(now - 86_400_000).toISOString(), until: new Date(now).toISOString(), bucketMinutes: 60 });
 */
export async function mailFlow(db: D1Database, q: { since: string; until: string; bucketMinutes: number }): Promise<FlowBucket[]> {
  if (!Number.isInteger(q.bucketMinutes) || q.bucketMinutes < 1 || q.bucketMinutes > 1440) {
    throw new ApiError(400, "bad_request", "bucketMinutes must be an integer from 1 to 1440");
  }
  const since = isoTime(q.since, "since");
  const until = isoTime(q.until, "until");
  const size = q.bucketMinutes * 60_000;
  const first = Math.floor(Date.parse(since) / size);
  const last = Math.floor((Date.parse(until) - 1) / size);
  if (last < first) return [];
  if (last - first + 1 > TRACKING_MAX_FLOW_BUCKETS) throw new ApiError(400, "bad_request", `at most ${TRACKING_MAX_FLOW_BUCKETS} buckets; use larger buckets`);

  const buckets: FlowBucket[] = [];
  for (let b = first; b <= last; b++)
    buckets.push({ at: new Date(b * size).toISOString(), accepted: 0, rejected: 0, quarantined: 0, spooled: 0, tempfailed: 0 });
  const { results } = await db
    .prepare(
      `SELECT CAST(CAST(strftime('%s', at) AS INTEGER) / ? AS INTEGER) AS bucket, outcome, COUNT(*) AS n FROM tracking_events
       WHERE kind = 'decision' AND at >= ? AND at < ? GROUP BY bucket, outcome`,
    )
    .bind(size / 1000, since, until)
    .all<{ bucket: number; outcome: string; n: number }>();
  for (const row of results) {
    const bucket = buckets[row.bucket - first];
    const outcome = DECISION_OUTCOMES.find((o) => o === row.outcome);
    if (bucket !== undefined && outcome !== undefined) bucket[outcome] += row.n;
  }
  return buckets;
}
