import { createExecutionContext, createMessageBatch, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_MESSAGE_BYTES } from "../../../shared/limits.ts";
import edge, { handleEmail, TempFailError } from "../../../workers/edge/index.ts";
import { processSpoolBatch, type SpoolDeps, type SpoolTask } from "../../../workers/edge/spool.ts";
import { messageIdOf, Tracker, type TrackingEvent } from "../../../workers/edge/tracking.ts";
import { chaos, edgeControl, storedBySubject, TWO_HUBS, useHubs, waitFor } from "../../helpers/delivery.ts";
import { DEMO_DIRECTORY, seedEdgeDirectory } from "../../helpers/edge-directory.ts";
import { mockEmail } from "../../helpers/email-event.ts";
import { migrateHub } from "../../helpers/hub.ts";
import { buildMessage, bytesOf } from "../../helpers/mail.ts";

const HOUR = 3_600_000;

/** The edge's env with a TRACKING producer that keeps what is sent: each sendBatch call as one array. */
function capturing(base: Env = env): { env: Env; batches: TrackingEvent[][]; events: () => TrackingEvent[] } {
  const batches: TrackingEvent[][] = [];
  const TRACKING = {
    send: async (body: TrackingEvent) => void batches.push([body]),
    sendBatch: async (messages: Iterable<MessageSendRequest<TrackingEvent>>) => void batches.push([...messages].map((m) => m.body)),
  };
  return { env: { ...base, TRACKING } as unknown as Env, batches, events: () => batches.flat() };
}

/** Runs the email handler to the end of its waitUntil work (where tracking is sent). */
async function receive(target: Env, options: { from?: string; to?: string; raw: string | Uint8Array; rawSize?: number }) {
  const email = mockEmail({ from: options.from ?? "sender@example.net", to: options.to ?? "alice@example.com", raw: options.raw, rawSize: options.rawSize });
  const ctx = createExecutionContext();
  const error = await handleEmail(email.message, target, ctx).then(
    () => null,
    (err: unknown) => err,
  );
  await waitOnExecutionContext(ctx);
  return { rejected: email.rejected(), error };
}

const messageIdIn = (raw: string): string => /^Message-ID: (.*)$/m.exec(raw)![1]!.trim();

/** The spool consumer's dependencies with a tracker, keeping DSNs; the clock may run ahead. */
function spoolDeps(tracker: Tracker, offsetMs = 0): SpoolDeps {
  return { mailer: { send: async () => undefined }, now: () => Date.now() + offsetMs, tracker };
}

async function consume(target: Env, ids: string[], deps: SpoolDeps): Promise<void> {
  const batch = createMessageBatch<SpoolTask>(
    "portcullis-spool",
    ids.map((deliveryId, i) => ({ id: `m${i}-${deliveryId}`, timestamp: new Date(), attempts: 1, body: { deliveryId } })),
  );
  await processSpoolBatch(batch, target, deps);
}

beforeAll(async () => {
  await migrateHub();
});

beforeEach(async () => {
  expect((await seedEdgeDirectory()).status).toMatch(/^(committed|unchanged)$/);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("tracking at the SMTP boundary", () => {
  it("records an accepted message as its delivery round and its decision, sent in one batch", async () => {
    const sink = capturing();
    const raw = buildMessage({ subject: "tracked" });
    const { rejected, error } = await receive(sink.env, { to: "Bob+Invoices@Example.COM", raw });
    expect([rejected, error]).toEqual([null, null]);
    expect(sink.batches).toHaveLength(1);
    const [round, decision] = sink.batches[0]!;
    expect(round).toMatchObject({
      v: 1,
      kind: "delivery",
      outcome: "delivered",
      edgeId: env.EDGE_ID,
      hubId: "hub",
      round: 1,
      attempts: [{ hub: "hub", ok: true, ms: expect.any(Number) }],
      messageId: messageIdIn(raw),
      sender: "sender@example.net",
    });
    expect(decision).toMatchObject({
      v: 1,
      kind: "decision",
      action: "accept",
      outcome: "accepted",
      smtp: expect.stringMatching(/^250 /),
      scl: expect.any(Number),
      hubId: "hub",
      deliveryId: round!.deliveryId,
      messageId: messageIdIn(raw),
      sender: "sender@example.net",
      size: bytesOf(raw).byteLength,
      latencyMs: expect.any(Number),
    });
    // The decision as the sender addressed it; the round as it was accepted (searches ignore case).
    expect(decision!.recipients).toEqual(["Bob+Invoices@Example.COM"]);
    expect(round!.recipients).toEqual(["bob+invoices@example.com"]);
    expect(decision!.agents.map((a) => a.agent)).toContain("recipient-filter");
    expect(decision!.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(decision!.eventId).not.toBe(round!.eventId);
    expect(Date.parse(decision!.at)).toBeLessThanOrEqual(Date.now());
  });

  it("records a rejected unknown recipient with its Message-ID and no delivery id", async () => {
    const sink = capturing();
    const raw = buildMessage({ subject: "to nobody" });
    const { rejected } = await receive(sink.env, { to: "nobody@example.com", raw });
    expect(rejected).toMatch(/^550 5\.1\.1 /);
    expect(sink.events()).toEqual([
      expect.objectContaining({
        kind: "decision",
        action: "reject",
        outcome: "rejected",
        smtp: rejected,
        deliveryId: null,
        messageId: messageIdIn(raw),
        recipients: ["nobody@example.com"],
        hubId: null,
        agents: expect.arrayContaining([expect.objectContaining({ agent: "recipient-filter", result: "fail", reason: "unknown_recipient" })]),
      }),
    ]);
  });

  it("records a message refused for its size without reading it", async () => {
    const sink = capturing();
    const { rejected } = await receive(sink.env, { raw: buildMessage(), rawSize: MAX_MESSAGE_BYTES + 1 });
    expect(rejected).toMatch(/^552 5\.3\.4 /);
    expect(sink.events()).toEqual([
      expect.objectContaining({ kind: "decision", outcome: "rejected", smtp: rejected, messageId: null, size: MAX_MESSAGE_BYTES + 1, agents: [] }),
    ]);
  });

  it("records a quarantined message as quarantined", async () => {
    // Every SCL quarantines under these thresholds.
    await seedEdgeDirectory({ ...DEMO_DIRECTORY, policies: { thresholds: { reject: 9, quarantine: 0, tag: 0 } } });
    const sink = capturing();
    await receive(sink.env, { raw: buildMessage({ subject: "held" }) });
    expect(sink.events().map((e) => [e.kind, e.action, e.outcome])).toEqual([
      ["delivery", null, "delivered"],
      ["decision", "quarantine", "quarantined"],
    ]);
  });

  it("records a deferral when no hub takes the message and it cannot be spooled", async () => {
    const unreachable = { ingest: async () => Promise.reject(new Error("connection refused")), ping: async () => Promise.reject(new Error("down")) };
    const brokenSpool = { put: async () => Promise.reject(new Error("R2 unavailable")) } as unknown as R2Bucket;
    const sink = capturing({
      ...env,
      HUB: unreachable as unknown as Env["HUB"],
      HUB_STANDBY: unreachable as unknown as Env["HUB_STANDBY"],
      SPOOL: brokenSpool,
    });
    const { error } = await receive(sink.env, { raw: buildMessage() });
    expect(error).toBeInstanceOf(TempFailError);
    const [round, decision] = sink.events();
    expect(round).toMatchObject({
      kind: "delivery",
      outcome: "failed",
      // The last hub tried: the primary, then the standby (the default hub list).
      hubId: "hub-standby",
      attempts: [
        { hub: "hub", ok: false, error: expect.stringMatching(/refused/) },
        { hub: "hub-standby", ok: false, error: expect.stringMatching(/refused/) },
      ],
    });
    expect(decision).toMatchObject({
      kind: "decision",
      action: "accept",
      outcome: "tempfailed",
      smtp: (error as Error).message,
      deliveryId: round!.deliveryId,
      detail: expect.stringMatching(/spooling failed too/),
    });
  });

  it("finds the Message-ID of an unparsed message, unfolded, or none", () => {
    const cases: [string, string | null][] = [
      ["Message-ID: <a@b>\r\n\r\nbody", "<a@b>"],
      ["Received: x\r\nmessage-id:\r\n  <folded@host> (comment)\r\nSubject: s\r\n\r\n", "<folded@host>"],
      ["Subject: s\r\n\r\nMessage-ID: <in-body@x>\r\n", null],
      ["Message-ID: bare-id\n\n", "bare-id"],
      ["Subject: none\r\n\r\n", null],
    ];
    for (const [raw, id] of cases) expect(messageIdOf(bytesOf(raw)), raw).toBe(id);
  });
});

describe("tracking delivery rounds and the spool", () => {
  beforeEach(async () => {
    // Long backoff: the real queue consumer stays out of these tests, which drive it by hand.
    await useHubs(TWO_HUBS, { retryBaseSeconds: 3600, retryMaxSeconds: 7200, delayNoticeAfterSeconds: 4 * 3600, expireAfterSeconds: 48 * 3600 });
    await chaos("a", { mode: "down" });
    await chaos("b", { mode: "down" });
  });

  /** Sends a message while both hubs are down; returns its delivery id and the events of the email handler. */
  async function spool(sink: ReturnType<typeof capturing>, subject: string, from = "sender@example.net"): Promise<string> {
    await receive(sink.env, { from, raw: buildMessage({ subject }) });
    const item = (await edgeControl().spoolList({ state: "queued", limit: 500 })).items.find((i) => i.subject === subject);
    if (!item) throw new Error(`${subject} was not spooled`);
    return item.deliveryId;
  }

  it("records a spooled message: a failed round over every hub, then the decision", async () => {
    const sink = capturing();
    const id = await spool(sink, "spooled and tracked");
    const [round, decision] = sink.events();
    expect(round).toMatchObject({
      kind: "delivery",
      outcome: "failed",
      deliveryId: id,
      round: 1,
      hubId: "hub-b",
      detail: expect.stringMatching(/no hub took/),
    });
    expect(round!.attempts.map((a) => [a.hub, a.ok])).toEqual([
      ["hub-a", false],
      ["hub-b", false],
    ]);
    expect(decision).toMatchObject({ kind: "decision", outcome: "spooled", action: "accept", deliveryId: id, smtp: expect.stringMatching(/^250 /) });
  });

  it("records each spool round: retry, then delivered, sent once per consumer batch", async () => {
    const sink = capturing();
    const id = await spool(sink, "retried and tracked");
    const handler = sink.batches.length;

    await consume(sink.env, [id], spoolDeps(new Tracker(sink.env)));
    await chaos("a", { mode: "up" });
    await consume(sink.env, [id], spoolDeps(new Tracker(sink.env), 2 * 60_000));
    // One sendBatch per consumer batch.
    expect(sink.batches.length).toBe(handler + 2);
    const [retry, delivered] = sink.batches.slice(handler);
    expect(retry).toEqual([
      expect.objectContaining({ kind: "spool", outcome: "retry", deliveryId: id, round: 2, hubId: "hub-b", attempts: [expect.anything(), expect.anything()] }),
    ]);
    expect(delivered).toEqual([
      expect.objectContaining({
        kind: "spool",
        outcome: "delivered",
        deliveryId: id,
        round: 3,
        hubId: "hub-a",
        attempts: [expect.objectContaining({ hub: "hub-a", ok: true })],
      }),
    ]);
    expect(await storedBySubject("retried and tracked")).toBe(1);
  });

  it("records the rounds of the edge's own queue handler, sent through its execution context", async () => {
    const sink = capturing();
    const id = await spool(sink, "queued and tracked");
    const handler = sink.batches.length;
    await chaos("b", { mode: "up" });
    const batch = createMessageBatch<SpoolTask>("portcullis-spool", [{ id: "q1", timestamp: new Date(), attempts: 1, body: { deliveryId: id } }]);
    const ctx = createExecutionContext();
    await edge.queue(batch as MessageBatch<unknown>, sink.env, ctx);
    await waitOnExecutionContext(ctx);
    expect(sink.batches.slice(handler)).toEqual([[expect.objectContaining({ kind: "spool", outcome: "delivered", deliveryId: id, hubId: "hub-b", round: 2 })]]);
  });

  it("records delivery status notifications: a delay notice sent, a non-delivery report suppressed for the null sender", async () => {
    const sink = capturing();
    const slow = await spool(sink, "slow and tracked");
    const bounce = await spool(sink, "bounce and tracked", "");
    const handler = sink.batches.length;
    const dsnEnv = { ...sink.env, DSN_FROM: "postmaster@example.com" } as unknown as Env;

    await consume(dsnEnv, [slow], spoolDeps(new Tracker(dsnEnv), 5 * HOUR));
    await consume(dsnEnv, [bounce], spoolDeps(new Tracker(dsnEnv), 49 * HOUR));
    const [delayed, expired] = sink.batches.slice(handler);
    expect(delayed!.map((e) => [e.kind, e.action, e.outcome, e.deliveryId])).toEqual([
      ["dsn", "delayed", "sent", slow],
      ["spool", null, "retry", slow],
    ]);
    expect(delayed![0]!.detail).toMatch(/^Message-ID </);
    expect(expired!.map((e) => [e.kind, e.action, e.outcome, e.deliveryId])).toEqual([
      ["dsn", "failed", "suppressed", bounce],
      ["spool", null, "dead", bounce],
    ]);
    expect(expired![1]).toMatchObject({ sender: "", round: null, attempts: [], detail: expect.stringMatching(/^expired after 49 h/) });
  });
});

describe("the tracker", () => {
  it("sends what it recorded in batches of at most 20 events, once", async () => {
    const sink = capturing();
    const tracker = new Tracker(sink.env);
    const delivery = {
      deliveryId: crypto.randomUUID(),
      envelope: { from: "a@example.net", to: ["b@example.com"] },
      raw: new Uint8Array(3),
      receivedAt: new Date().toISOString(),
      messageId: null,
    };
    for (let i = 0; i < 45; i++) tracker.dsn(delivery as unknown as Parameters<Tracker["dsn"]>[0], "delayed", "sent");
    tracker.flush();
    tracker.flush();
    await waitFor("three batches", async () => sink.batches.length === 3);
    expect(sink.batches.map((b) => b.length)).toEqual([20, 20, 5]);
    expect(new Set(sink.events().map((e) => e.eventId)).size).toBe(45);
  });
});

describe("tracking never affects mail", () => {
  const failing: [string, () => Queue][] = [
    [
      "rejects every send",
      () => ({ send: () => Promise.reject(new Error("queue down")), sendBatch: () => Promise.reject(new Error("queue down")) }) as unknown as Queue,
    ],
    [
      "throws at once",
      () =>
        ({
          send: () => {
            throw new Error("binding broken");
          },
          sendBatch: () => {
            throw new Error("binding broken");
          },
        }) as unknown as Queue,
    ],
    ["is missing", () => undefined as unknown as Queue],
  ];

  for (const [what, binding] of failing) {
    it(`delivers, rejects and defers as usual when the TRACKING binding ${what}`, async () => {
      const errors = vi.spyOn(console, "error");
      const broken = { ...env, TRACKING: binding() } as Env;
      const subject = `despite tracking ${crypto.randomUUID()}`;
      expect(await receive(broken, { raw: buildMessage({ subject }) })).toEqual({ rejected: null, error: null });
      expect(await storedBySubject(subject)).toBe(1);
      expect((await receive(broken, { to: "nobody@example.com", raw: buildMessage() })).rejected).toMatch(/^550 5\.1\.1 /);
      const unreachable = { ingest: async () => Promise.reject(new Error("down")), ping: async () => Promise.reject(new Error("down")) };
      const brokenSpool = { put: async () => Promise.reject(new Error("R2 unavailable")) } as unknown as R2Bucket;
      const deferred = await receive({ ...broken, HUB: unreachable as unknown as Env["HUB"], SPOOL: brokenSpool }, { raw: buildMessage() });
      expect(deferred.error).toBeInstanceOf(TempFailError);
      const logged = errors.mock.calls.map((c) => String(c[0])).filter((line) => line.includes("tracking_dropped"));
      if (what === "is missing") expect(logged).toEqual([]);
      else {
        expect(logged.length).toBeGreaterThanOrEqual(3);
        // Addresses never reach the logs in clear.
        for (const line of logged) expect(line).not.toMatch(/@example\./);
      }
    });
  }
});

describe("tracking through the queue to the hub", () => {
  it("lands in the hub's D1: an accepted message's trace, and a rejected message by its Message-ID", async () => {
    const raw = buildMessage({ subject: "end to end" });
    expect(await receive(env, { raw })).toEqual({ rejected: null, error: null });
    const refusedRaw = buildMessage({ subject: "end to end, refused" });
    expect((await receive(env, { to: "nobody@example.com", raw: refusedRaw })).rejected).toMatch(/^550 /);

    const trace = await waitFor("the accepted message's events at the hub", async () => {
      const { results } = await env.HUB_DB.prepare("SELECT kind, outcome, delivery_id, recipients FROM tracking_events WHERE message_id = ? ORDER BY seq")
        .bind(messageIdIn(raw))
        .all<{ kind: string; outcome: string; delivery_id: string | null; recipients: string }>();
      return results.length === 2 ? results : null;
    });
    expect(trace.map((r) => [r.kind, r.outcome])).toEqual([
      ["delivery", "delivered"],
      ["decision", "accepted"],
    ]);
    expect(trace[0]!.delivery_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(trace[1]!.recipients)).toEqual(["alice@example.com"]);
    const byRecipient = await env.HUB_DB.prepare(
      "SELECT COUNT(*) AS n FROM tracking_recipients r JOIN tracking_events e ON e.seq = r.event_seq WHERE r.recipient = ? AND e.delivery_id = ?",
    )
      .bind("ALICE@example.com", trace[0]!.delivery_id)
      .first<{ n: number }>();
    expect(byRecipient?.n).toBe(2);

    const refused = await waitFor("the rejected message's event at the hub", async () =>
      env.HUB_DB.prepare("SELECT kind, outcome, delivery_id, smtp FROM tracking_events WHERE message_id = ?")
        .bind(messageIdIn(refusedRaw))
        .first<{ kind: string; outcome: string; delivery_id: string | null; smtp: string }>(),
    );
    expect(refused).toMatchObject({ kind: "decision", outcome: "rejected", delivery_id: null, smtp: expect.stringMatching(/^550 5\.1\.1 /) });
  });
});
