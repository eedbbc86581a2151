import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { HubEnv } from "../../../workers/hub/app.ts";
import { onError } from "../../../workers/hub/api/errors.ts";
import hub from "../../../workers/hub/index.ts";
import { stats, tracking } from "../../../workers/hub/tracking/api.ts";
import { consumeTracking, insertEvents } from "../../../workers/hub/tracking/ingest.ts";
import { TRACKING_QUEUE } from "../../../workers/hub/tracking/limits.ts";
import { mailFlow, searchEvents, type TrackingEvent } from "../../../workers/hub/tracking/queries.ts";
import { pruneEvents, pruneTracking, retentionDays } from "../../../workers/hub/tracking/retention.ts";
import { count } from "./helpers.ts";
import { wireEvent } from "./tracking-events.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Delivers events to the hub's queue handler as the `portcullis-tracking` queue would; returns what was acknowledged. */
async function deliver(bodies: unknown[], target: Env = env): Promise<{ acked: boolean; retried: boolean }> {
  const batch = createMessageBatch<unknown>(
    TRACKING_QUEUE,
    bodies.map((body, i) => ({ id: `t${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await hub.queue(batch as MessageBatch<never>, target);
  const result = await getQueueResult(batch, ctx);
  return { acked: result.ackAll, retried: result.retryBatch.retry };
}

/**
 * The tracking routers mounted where the admin app mounts them, with its error handler and the
 * role the token middleware would put on the context (routes allow nothing without one).
 */
const app = new Hono<HubEnv>();
app.onError(onError);
app.use("/api/v1/*", async (c, next) => {
  c.set("role", "read-only");
  await next();
});
app.route("/api/v1/tracking", tracking);
app.route("/api/v1/stats", stats);
const get = (path: string): Promise<Response> => Promise.resolve(app.request(path, {}, env));

const ids = (items: TrackingEvent[]): string[] => items.map((e) => e.eventId);

describe("tracking ingest", () => {
  it("stores a batch once, however often the queue delivers it", async () => {
    const edgeId = `edge-${crypto.randomUUID()}`;
    // More events than one INSERT holds (5) and more recipients than one recipient INSERT holds (50).
    const many = Array.from({ length: 60 }, (_, i) => `r${i}@example.com`);
    const events = Array.from({ length: 12 }, (_, i) => wireEvent({ edgeId, recipients: i === 0 ? many : [`r${i}@example.com`] }));
    expect(await deliver(events)).toEqual({ acked: true, retried: false });
    expect(await deliver(events)).toEqual({ acked: true, retried: false });
    // And once more with the events repeated inside one batch.
    expect(await deliver([...events.slice(0, 3), ...events.slice(0, 3)])).toEqual({ acked: true, retried: false });
    expect(await count("SELECT COUNT(*) AS n FROM tracking_events WHERE edge_id = ?", edgeId)).toBe(12);
    expect(await count("SELECT COUNT(*) AS n FROM tracking_recipients r JOIN tracking_events e ON e.seq = r.event_seq WHERE e.edge_id = ?", edgeId)).toBe(
      60 + 11,
    );
    expect(await insertEvents(env.DB, events)).toBe(0);
  });

  it("keeps each event's fields as the edge sent them", async () => {
    const event = wireEvent({
      kind: "spool",
      outcome: "retry",
      action: null,
      smtp: null,
      scl: null,
      agents: [],
      attempts: [
        { hub: "hub-a", ok: false, ms: 8000, error: "TimeoutError: hub hub-a did not take the message" },
        { hub: "hub-b", ok: false, ms: 3 },
      ],
      hubId: "hub-b",
      round: 3,
      detail: "no hub took the message",
      latencyMs: 8003,
      messageId: "bare@example.net",
    });
    await deliver([event]);
    const { items } = await searchEvents(env.DB, { deliveryId: event.deliveryId! });
    const { v: _, ...stored } = event;
    expect(items).toEqual([{ ...stored, messageId: "<bare@example.net>" }]);
  });

  it("drops a malformed message and stores the rest of the batch", async () => {
    const good = wireEvent();
    const result = await deliver([good, { v: 1, eventId: "not-a-uuid" }, "garbage", { ...wireEvent(), kind: "teleport" }]);
    expect(result).toEqual({ acked: true, retried: false });
    expect(await count("SELECT COUNT(*) AS n FROM tracking_events WHERE event_id = ?", good.eventId)).toBe(1);
  });

  it("has the queue retry the batch when D1 fails, storing nothing", async () => {
    const event = wireEvent();
    const broken = {
      ...env,
      DB: {
        prepare: env.DB.prepare.bind(env.DB),
        batch: () => Promise.reject(new Error("D1 unavailable")),
      },
    } as unknown as Env;
    expect(await deliver([event], broken)).toEqual({ acked: false, retried: true });
    expect(await count("SELECT COUNT(*) AS n FROM tracking_events WHERE event_id = ?", event.eventId)).toBe(0);
  });

  it("sends other queues' batches to the onward consumer, not to tracking", async () => {
    const batch = createMessageBatch<unknown>("portcullis-onward", [{ id: "o1", timestamp: new Date(), attempts: 1, body: wireEvent() }]);
    const ctx = createExecutionContext();
    await hub.queue(batch as MessageBatch<never>, env);
    const result = await getQueueResult(batch, ctx);
    // The onward consumer acknowledges a message that names no onward row, one by one.
    expect(result.explicitAcks).toEqual(["o1"]);
    expect(result.ackAll).toBe(false);
  });

  it("consumes a batch of only malformed messages without touching D1", async () => {
    const batch = createMessageBatch<unknown>(TRACKING_QUEUE, [{ id: "x", timestamp: new Date(), attempts: 1, body: null }]);
    const noDb = { DB: { batch: () => Promise.reject(new Error("must not be called")) } as unknown as D1Database };
    expect(await consumeTracking(batch, noDb)).toEqual({ inserted: 0, invalid: 1 });
  });
});

describe("tracking search", () => {
  it("finds events by Message-ID (with or without brackets), sender, recipient, outcome and delivery id", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const a = wireEvent({ messageId: `<a-${tag}@example.net>`, sender: `Boss-${tag}@Example.NET`, recipients: [`alice-${tag}@example.com`] });
    const b = wireEvent({ sender: `boss-${tag}@example.net`, recipients: [`bob-${tag}@example.com`, `alice-${tag}@example.com`], outcome: "quarantined" });
    const c = wireEvent({ sender: `other-${tag}@example.net`, recipients: [`carol-${tag}@example.com`], outcome: "rejected", deliveryId: null });
    await insertEvents(env.DB, [a, b, c]);

    expect(ids((await searchEvents(env.DB, { messageId: `<a-${tag}@example.net>` })).items)).toEqual([a.eventId]);
    expect(ids((await searchEvents(env.DB, { messageId: `a-${tag}@example.net` })).items)).toEqual([a.eventId]);
    expect(ids((await searchEvents(env.DB, { sender: `BOSS-${tag}@example.net` })).items).sort()).toEqual([a.eventId, b.eventId].sort());
    expect(ids((await searchEvents(env.DB, { recipient: `Alice-${tag}@example.com` })).items).sort()).toEqual([a.eventId, b.eventId].sort());
    expect(ids((await searchEvents(env.DB, { recipient: `carol-${tag}@example.com`, outcome: "rejected" })).items)).toEqual([c.eventId]);
    expect(ids((await searchEvents(env.DB, { recipient: `carol-${tag}@example.com`, outcome: "accepted" })).items)).toEqual([]);
    expect(ids((await searchEvents(env.DB, { sender: `boss-${tag}@example.net`, outcome: "quarantined" })).items)).toEqual([b.eventId]);
    expect(ids((await searchEvents(env.DB, { deliveryId: b.deliveryId!.toUpperCase() })).items)).toEqual([b.eventId]);
    expect((await searchEvents(env.DB, { recipient: `nobody-${tag}@example.com` })).items).toEqual([]);
  });

  it("finds the null sender with an empty sender", async () => {
    const tag = crypto.randomUUID();
    const bounce = wireEvent({ sender: "", recipients: [`bounce-${tag}@example.com`] });
    await insertEvents(env.DB, [bounce, wireEvent({ recipients: [`bounce-${tag}@example.com`] })]);
    const { items } = await searchEvents(env.DB, { sender: "", recipient: `bounce-${tag}@example.com` });
    expect(ids(items)).toEqual([bounce.eventId]);
  });

  it("limits by time range: since inclusive, until exclusive, newest first", async () => {
    const rcpt = `range-${crypto.randomUUID()}@example.com`;
    const base = Date.parse("2026-11-10T12:00:00.000Z");
    const events = [0, 1, 2, 3, 4].map((h) => wireEvent({ recipients: [rcpt], at: new Date(base + h * HOUR).toISOString() }));
    await insertEvents(env.DB, events);
    const since = new Date(base + HOUR).toISOString();
    const until = new Date(base + 3 * HOUR).toISOString();
    expect(ids((await searchEvents(env.DB, { recipient: rcpt, since, until })).items)).toEqual([events[2]!.eventId, events[1]!.eventId]);
    // The same range through the sender index (another code path), with offsets in the times.
    const sender = `range-${crypto.randomUUID()}@example.net`;
    const bySender = [0, 1, 2, 3, 4].map((h) => wireEvent({ sender, at: new Date(base + h * HOUR).toISOString() }));
    await insertEvents(env.DB, bySender);
    const found = await searchEvents(env.DB, { sender, since: "2026-11-10T14:00:00+01:00", until: "2026-11-10T16:00:00+01:00" });
    expect(ids(found.items)).toEqual([bySender[2]!.eventId, bySender[1]!.eventId]);
  });

  it("pages through results newest first with a cursor, including events at the same instant", async () => {
    const sender = `pages-${crypto.randomUUID()}@example.net`;
    const rcpt = `pages-${crypto.randomUUID()}@example.com`;
    const at = "2026-11-12T08:00:00.000Z";
    // Four events at one instant, three later ones.
    const events = [
      ...Array.from({ length: 4 }, () => wireEvent({ sender, recipients: [rcpt], at })),
      ...[1, 2, 3].map((m) => wireEvent({ sender, recipients: [rcpt], at: new Date(Date.parse(at) + m * MINUTE).toISOString() })),
    ];
    await insertEvents(env.DB, events);
    for (const filter of [{ sender }, { recipient: rcpt }]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      const sizes: number[] = [];
      for (let page = 0; page < 10; page++) {
        const result = await searchEvents(env.DB, { ...filter, limit: 3, cursor });
        sizes.push(result.items.length);
        seen.push(...ids(result.items));
        if (result.nextCursor === null) break;
        cursor = result.nextCursor;
      }
      expect(sizes).toEqual([3, 3, 1]);
      expect(new Set(seen).size).toBe(7);
      // Newest first: the three later events, then the four at one instant.
      expect(seen.slice(0, 3)).toEqual([events[6]!.eventId, events[5]!.eventId, events[4]!.eventId]);
      expect(seen.slice(3).sort()).toEqual(ids(events.slice(0, 4)).sort());
    }
    // A page that ends exactly at the last event says there is no next page.
    expect((await searchEvents(env.DB, { sender, limit: 7 })).nextCursor).toBeNull();
  });
});

describe("mail flow", () => {
  it("counts decision events per bucket and outcome, with empty buckets as zeros", async () => {
    // A day of its own, so other tests' events do not count.
    const base = Date.parse("2026-10-01T00:00:00.000Z");
    const at = (minutes: number) => new Date(base + minutes * MINUTE).toISOString();
    await insertEvents(env.DB, [
      wireEvent({ at: at(5), outcome: "accepted" }),
      wireEvent({ at: at(59), outcome: "accepted" }),
      wireEvent({ at: at(30), outcome: "rejected", deliveryId: null }),
      wireEvent({ at: at(61), outcome: "quarantined" }),
      wireEvent({ at: at(62), outcome: "spooled" }),
      wireEvent({ at: at(63), outcome: "tempfailed", deliveryId: null }),
      // Not decisions: delivery rounds and spool rounds are not mail flow.
      wireEvent({ at: at(10), kind: "delivery", outcome: "delivered" }),
      wireEvent({ at: at(11), kind: "spool", outcome: "delivered" }),
      // Outside the range.
      wireEvent({ at: at(-1), outcome: "accepted" }),
      wireEvent({ at: at(240), outcome: "accepted" }),
    ]);
    const flow = await mailFlow(env.DB, { since: at(0), until: at(240), bucketMinutes: 60 });
    expect(flow).toEqual([
      { at: at(0), accepted: 2, rejected: 1, quarantined: 0, spooled: 0, tempfailed: 0 },
      { at: at(60), accepted: 0, rejected: 0, quarantined: 1, spooled: 1, tempfailed: 1 },
      { at: at(120), accepted: 0, rejected: 0, quarantined: 0, spooled: 0, tempfailed: 0 },
      { at: at(180), accepted: 0, rejected: 0, quarantined: 0, spooled: 0, tempfailed: 0 },
    ]);
    // Smaller buckets split the first hour; a range that starts mid-bucket labels the bucket by its start.
    const quarter = await mailFlow(env.DB, { since: at(10), until: at(60), bucketMinutes: 15 });
    expect(quarter.map((b) => [b.at, b.accepted, b.rejected])).toEqual([
      [at(0), 0, 0],
      [at(15), 0, 0],
      [at(30), 0, 1],
      [at(45), 1, 0],
    ]);
  });

  it("refuses more buckets than a chart can use", async () => {
    await expect(mailFlow(env.DB, { since: "2026-01-01T00:00:00Z", until: "2026-03-01T00:00:00Z", bucketMinutes: 1 })).rejects.toThrow(/at most/);
  });
});

describe("tracking API", () => {
  it("GET /api/v1/tracking searches with query parameters and pages with nextCursor", async () => {
    const rcpt = `api-${crypto.randomUUID()}@example.com`;
    const events = [1, 2, 3].map((m) => wireEvent({ recipients: [rcpt], at: new Date(Date.now() - m * MINUTE).toISOString() }));
    await insertEvents(env.DB, events);
    const first = await get(`/api/v1/tracking?recipient=${encodeURIComponent(rcpt)}&limit=2`);
    expect(first.status).toBe(200);
    const page = (await first.json()) as { items: TrackingEvent[]; nextCursor: string | null };
    expect(ids(page.items)).toEqual([events[0]!.eventId, events[1]!.eventId]);
    expect(page.items[0]).toMatchObject({ recipients: [rcpt], outcome: "accepted", smtp: "250 2.0.0 OK", agents: [{ agent: "recipient-filter" }] });
    const second = (await (await get(`/api/v1/tracking?recipient=${encodeURIComponent(rcpt)}&limit=2&cursor=${page.nextCursor}`)).json()) as typeof page;
    expect(ids(second.items)).toEqual([events[2]!.eventId]);
    expect(second.nextCursor).toBeNull();
  });

  it("GET /api/v1/tracking answers 400 for a bad time, outcome, limit or cursor", async () => {
    for (const query of ["since=yesterday", "outcome=vanished", "limit=0", "limit=501", "cursor=bm9wZQ", "deliveryId=123"]) {
      const res = await get(`/api/v1/tracking?${query}`);
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("bad_request");
    }
  });

  it("GET /api/v1/tracking/{deliveryId} gives the delivery's events oldest first", async () => {
    const deliveryId = crypto.randomUUID();
    const t = Date.now() - HOUR;
    const decision = wireEvent({ deliveryId, kind: "decision", outcome: "spooled", at: new Date(t).toISOString() });
    const round = wireEvent({ deliveryId, kind: "delivery", outcome: "failed", at: new Date(t - 5).toISOString() });
    const spool = wireEvent({ deliveryId, kind: "spool", outcome: "delivered", round: 2, at: new Date(t + 10 * MINUTE).toISOString() });
    await insertEvents(env.DB, [spool, decision, round, wireEvent()]);
    const res = await get(`/api/v1/tracking/${deliveryId.toUpperCase()}`);
    expect(res.status).toBe(200);
    const trace = (await res.json()) as { deliveryId: string; items: TrackingEvent[] };
    expect(trace.deliveryId).toBe(deliveryId);
    expect(trace.items.map((e) => [e.kind, e.outcome])).toEqual([
      ["delivery", "failed"],
      ["decision", "spooled"],
      ["spool", "delivered"],
    ]);
    expect((await get(`/api/v1/tracking/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await get(`/api/v1/tracking/not-a-delivery-id`)).status).toBe(400);
  });

  it("GET /api/v1/stats/flow counts the last hours in buckets", async () => {
    const before = (await (await get("/api/v1/stats/flow?hours=2&bucketMinutes=30")).json()) as { buckets: { quarantined: number }[] };
    const total = (buckets: { quarantined: number }[]) => buckets.reduce((n, b) => n + b.quarantined, 0);
    await insertEvents(env.DB, [
      wireEvent({ outcome: "quarantined", at: new Date(Date.now() - 10 * MINUTE).toISOString() }),
      wireEvent({ outcome: "quarantined", at: new Date(Date.now() - 70 * MINUTE).toISOString() }),
      wireEvent({ outcome: "quarantined", at: new Date(Date.now() - 5 * HOUR).toISOString() }),
    ]);
    const res = await get("/api/v1/stats/flow?hours=2&bucketMinutes=30");
    expect(res.status).toBe(200);
    const flow = (await res.json()) as { since: string; until: string; bucketMinutes: number; buckets: { at: string; quarantined: number }[] };
    expect(flow.bucketMinutes).toBe(30);
    expect(Date.parse(flow.until) - Date.parse(flow.since)).toBe(2 * HOUR);
    // Four whole buckets in two hours, plus one more when the range does not start on a boundary.
    expect(flow.buckets.length).toBeGreaterThanOrEqual(4);
    expect(flow.buckets.length).toBeLessThanOrEqual(5);
    expect(total(flow.buckets) - total(before.buckets)).toBe(2);
    expect((await get("/api/v1/stats/flow?hours=168&bucketMinutes=1")).status).toBe(400);
    expect((await get("/api/v1/stats/flow?hours=0")).status).toBe(400);
  });
});

describe("tracking retention", () => {
  it("reads TRACKING_RETENTION_DAYS, falling back to 30 days", () => {
    expect(retentionDays({ TRACKING_RETENTION_DAYS: "7" })).toBe(7);
    expect(retentionDays({})).toBe(30);
    expect(retentionDays({ TRACKING_RETENTION_DAYS: "0" })).toBe(30);
    expect(retentionDays({ TRACKING_RETENTION_DAYS: "two weeks" })).toBe(30);
    expect(retentionDays(env)).toBe(30);
  });

  it("deletes events past the retention with their recipient rows, in bounded chunks", async () => {
    const edgeId = `edge-${crypto.randomUUID()}`;
    // Before every other event in this file, so these are the oldest rows.
    const now = Date.parse("2020-06-01T00:00:00.000Z");
    const old = Array.from({ length: 7 }, (_, i) =>
      wireEvent({ edgeId, at: new Date(now - 40 * DAY - i * MINUTE).toISOString(), recipients: ["a@x.example", "b@x.example"] }),
    );
    const fresh = wireEvent({ edgeId, at: new Date(now - 29 * DAY).toISOString() });
    await insertEvents(env.DB, [...old, fresh]);
    const byEdge = "SELECT COUNT(*) AS n FROM tracking_events WHERE edge_id = ?";
    const recipientsByEdge = "SELECT COUNT(*) AS n FROM tracking_recipients r JOIN tracking_events e ON e.seq = r.event_seq WHERE e.edge_id = ?";
    const cutoff = new Date(now - 30 * DAY).toISOString();
    // Two chunks of two: four of the seven go, the oldest first.
    expect(await pruneEvents(env.DB, cutoff, { chunk: 2, maxChunks: 2 })).toBe(4);
    expect(await count(byEdge, edgeId)).toBe(4);
    const left = await env.DB.prepare("SELECT event_id FROM tracking_events WHERE edge_id = ? ORDER BY at").bind(edgeId).all<{ event_id: string }>();
    expect(left.results.map((r) => r.event_id)).toEqual([old[2]!.eventId, old[1]!.eventId, old[0]!.eventId, fresh.eventId]);
    // The rest, and no recipient row outlives its event.
    expect(await pruneEvents(env.DB, cutoff, { chunk: 2 })).toBe(3);
    expect(await count(byEdge, edgeId)).toBe(1);
    expect(await count(recipientsByEdge, edgeId)).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM tracking_recipients WHERE event_seq NOT IN (SELECT seq FROM tracking_events)")).toBe(0);
    // With a shorter retention the fresh one goes too.
    expect(await pruneTracking({ DB: env.DB, TRACKING_RETENTION_DAYS: "7" }, now)).toBe(1);
    expect(await count(byEdge, edgeId)).toBe(0);
  });

  it("runs from the every-minute cron", async () => {
    const old = wireEvent({ at: new Date(Date.now() - 31 * DAY).toISOString() });
    const fresh = wireEvent({ at: new Date(Date.now() - 29 * DAY).toISOString() });
    await insertEvents(env.DB, [old, fresh]);
    const ctx = createExecutionContext();
    await hub.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await count("SELECT COUNT(*) AS n FROM tracking_events WHERE event_id = ?", old.eventId)).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM tracking_events WHERE event_id = ?", fresh.eventId)).toBe(1);
  });
});
