import { multiRow, tupleOf } from "../db/statements.ts";
import { normalizeMessageId, TrackingEventWire } from "./event.ts";
import { hubLog } from "../../../shared/log.ts";

const EVENT_COLUMNS = [
  "event_id",
  "at",
  "edge_id",
  "kind",
  "delivery_id",
  "message_id",
  "sender",
  "recipients",
  "action",
  "outcome",
  "smtp",
  "scl",
  "agents",
  "hub_id",
  "attempts",
  "round",
  "size",
  "detail",
  "latency_ms",
] as const;

function eventValues(e: TrackingEventWire): unknown[] {
  return [
    e.eventId,
    // One format for every row: text order is time order only if all share it.
    new Date(e.at).toISOString(),
    e.edgeId,
    e.kind,
    e.deliveryId,
    e.messageId === null || e.messageId.trim() === "" ? null : normalizeMessageId(e.messageId),
    e.sender,
    JSON.stringify(e.recipients),
    e.action,
    e.outcome,
    e.smtp,
    e.scl,
    JSON.stringify(e.agents),
    e.hubId,
    JSON.stringify(e.attempts),
    e.round,
    e.size,
    e.detail,
    e.latencyMs,
  ];
}

/**
 * Stores events in one D1 batch (one transaction): multi-row INSERTs of at most 100 bound
 * parameters each, then the event × recipient rows. Idempotent on the event id: an event already
 * stored (a queue batch delivered again) is skipped, its recipient rows too. Returns how many
 * events were new.
 */
export async function insertEvents(db: D1Database, events: TrackingEventWire[]): Promise<number> {
  const unique = [...new Map(events.map((e) => [e.eventId, e])).values()];
  if (unique.length === 0) return 0;
  const eventInserts = multiRow(
    db,
    unique,
    tupleOf(EVENT_COLUMNS.length),
    (values) => `INSERT INTO tracking_events (${EVENT_COLUMNS.join(", ")}) VALUES ${values} ON CONFLICT (event_id) DO NOTHING`,
    eventValues,
  );
  const pairs = unique.flatMap((e) => [...new Set(e.recipients)].map((recipient) => [e.eventId, recipient]));
  // The time and sequence number come from the event row just written (or written before).
  const recipients = multiRow(
    db,
    pairs,
    "(?, ?)",
    (values) =>
      `INSERT OR IGNORE INTO tracking_recipients (recipient, at, event_seq)
       SELECT v.column2, e.at, e.seq FROM (VALUES ${values}) AS v JOIN tracking_events e ON e.event_id = v.column1`,
    (pair) => pair,
  );
  const results = await db.batch([...eventInserts, ...recipients]);
  return results.slice(0, eventInserts.length).reduce((n, r) => n + (r.meta.changes ?? 0), 0);
}

/**
 * The `portcullis-tracking` consumer: checks each message against the event schema, stores the
 * valid ones in one batch and acknowledges the whole batch. A malformed message is dropped (and
 * counted in the log, without its content: it may hold addresses). If D1 fails, the batch is
 * retried by the queue; a redelivered batch inserts nothing twice.
 */
export async function consumeTracking(
  batch: MessageBatch<unknown>,
  env: Pick<Env, "DB"> & { HUB_ID?: string },
): Promise<{ inserted: number; invalid: number }> {
  const events: TrackingEventWire[] = [];
  let invalid = 0;
  for (const message of batch.messages) {
    const parsed = TrackingEventWire.safeParse(message.body);
    if (parsed.success) events.push(parsed.data);
    else invalid++;
  }
  const log = hubLog(env.HUB_ID ?? "");
  if (invalid > 0) log.error("tracking_invalid", { dropped: invalid, of: batch.messages.length });
  try {
    const inserted = await insertEvents(env.DB, events);
    batch.ackAll();
    return { inserted, invalid };
  } catch (err) {
    log.error("tracking_ingest_failed", { events: events.length, error: String(err) });
    batch.retryAll();
    return { inserted: 0, invalid };
  }
}
