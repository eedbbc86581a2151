import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Delivery } from "../../../shared/delivery.ts";
import { withTags } from "../../../shared/tags.ts";
import type { OnwardRecord } from "../../../workers/hub/db/onward.ts";
import hub from "../../../workers/hub/index.ts";
import { attemptOnward } from "../../../workers/hub/onward/deliver.ts";
import { storeDelivery } from "../../../workers/hub/mailbox.ts";
import { sweepOnward } from "../../../workers/hub/onward/queue.ts";
import { api, attemptedFailing, count, hubIngest, onwardOf, setRoute, testDelivery, waitForOnward, webhookRequests } from "./helpers.ts";

const SECRET = "webhook-secret-0123456789abcdef";
const TAGS = { "X-Portcullis-SCL": "1", "X-Portcullis-Status": "clean" } as const;

/** A fresh receiver path: `https://webhook.test/<uuid>/<behaviour>` (see outbound.ts). */
function receiver(behaviour: string): { url: string; path: string } {
  const path = `/${crypto.randomUUID()}/${behaviour}`;
  return { url: `https://webhook.test${path}`, path };
}

async function stored(d: Delivery): Promise<number> {
  const result = await hubIngest.ingest(d);
  if (result.status !== "stored") throw new Error(`not stored: ${JSON.stringify(result)}`);
  return result.id;
}

const fromBase64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** The receiver's side of the signature check: HMAC-SHA-256 over `${timestamp}.` and the body. */
async function signatureValid(secret: string, headers: Record<string, string>, body: Uint8Array): Promise<boolean> {
  const m = /^v1=([0-9a-f]{64})$/.exec(headers["x-portcullis-signature"] ?? "");
  if (m === null) return false;
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const signed = new Uint8Array([...new TextEncoder().encode(`${headers["x-portcullis-timestamp"]}.`), ...body]);
  return crypto.subtle.verify(
    "HMAC",
    key,
    Uint8Array.from(m[1]!.match(/../g)!, (h) => parseInt(h, 16)),
    signed,
  );
}

/** An onward row written straight into D1, as ingest writes it, but with no queue message: what a crash right after the write leaves. */
async function insertOnward(messageId: number, target: string, times: { nextAttemptAt: number; expiresAt: number }): Promise<number> {
  const row = await env.DB.prepare(
    `INSERT INTO onward (message_id, route_key, kind, target, secret, recipients, next_attempt_at, expires_at)
     VALUES (?, ?, 'webhook', ?, ?, '["alice@example.com"]', ?, ?) RETURNING id`,
  )
    .bind(messageId, `webhook ${target}`, target, SECRET, new Date(times.nextAttemptAt).toISOString(), new Date(times.expiresAt).toISOString())
    .first<{ id: number }>();
  return row!.id;
}

describe("webhook routes", () => {
  it("posts the message as delivered, with its envelope and a signature the receiver can check", async () => {
    const hook = receiver("ok");
    await setRoute("hook-ok.test", { type: "webhook", url: hook.url, secret: SECRET });
    const d = testDelivery(["alice@hook-ok.test"], { verdict: { action: "accept", scl: 1, agents: [], tags: TAGS } });
    const id = await stored(d);

    const [step] = await waitForOnward(id, (steps) => expect(steps.map((s) => s.state)).toEqual(["delivered"]));
    expect(step).toMatchObject({
      route: { type: "webhook", url: hook.url },
      recipients: ["alice@hook-ok.test"],
      attempts: 1,
      lastError: null,
      nextAttemptAt: null,
    });
    expect(JSON.stringify(step)).not.toContain(SECRET);

    const [request, ...more] = await webhookRequests(hook.path);
    expect(more).toEqual([]);
    expect(request!.method).toBe("POST");
    expect(request!.headers).toMatchObject({
      "content-type": "message/rfc822",
      "x-portcullis-delivery-id": d.deliveryId,
      "x-portcullis-envelope-from": "sender@example.net",
      "x-portcullis-envelope-to": "alice@hook-ok.test",
      "x-portcullis-attempt": "1",
    });
    const body = fromBase64(request!.body);
    expect(body).toEqual(withTags(d.raw, TAGS));
    expect(Math.abs(Number(request!.headers["x-portcullis-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    expect(await signatureValid(SECRET, request!.headers, body)).toBe(true);
    expect(await signatureValid("another-secret-0123456789abcdef", request!.headers, body)).toBe(false);
    expect(await signatureValid(SECRET, request!.headers, body.subarray(1))).toBe(false);
  });

  it("retries after 500s with a doubling delay, then delivers exactly once", async () => {
    const hook = receiver("fail-2");
    await setRoute("hook-retry.test", { type: "webhook", url: hook.url, secret: SECRET });
    const id = await stored(testDelivery(["bob@hook-retry.test"]));

    // The first attempt runs from the queue; the receiver answers 500.
    const [first] = await waitForOnward(id, (steps) => expect(steps[0]).toMatchObject(attemptedFailing(1)));
    expect(first).toMatchObject({ state: "pending", lastError: "HTTP 500: receiver down for maintenance" });
    expect(Date.parse(first!.nextAttemptAt!) - Date.parse(first!.lastAttemptAt!)).toBe(30_000);

    // Time moves on to each due time; the second attempt fails again, after twice the delay.
    expect(await attemptOnward(env, first!.id, { now: Date.parse(first!.nextAttemptAt!) })).toMatchObject({ state: "pending" });
    const [second] = await onwardOf(id);
    expect(second).toMatchObject({ state: "pending", attempts: 2 });
    expect(Date.parse(second!.nextAttemptAt!) - Date.parse(second!.lastAttemptAt!)).toBe(60_000);
    expect(await attemptOnward(env, first!.id, { now: Date.parse(second!.nextAttemptAt!) })).toEqual({ state: "delivered" });

    // Delivered is final: a late queue message or a sweep attempts nothing more.
    expect(await attemptOnward(env, first!.id, { now: Date.now() + 86_400_000 })).toEqual({ state: "skipped" });
    const requests = await webhookRequests(hook.path);
    expect(requests.map((r) => r.headers["x-portcullis-attempt"])).toEqual(["1", "2", "3"]);
    expect(new Set(requests.map((r) => r.headers["x-portcullis-delivery-id"])).size).toBe(1);
    expect((await onwardOf(id))[0]).toMatchObject({ state: "delivered", attempts: 3, lastError: null });
  });

  it("marks the step failed when retries would run past its expiry; operators see it and can retry it", async () => {
    const hook = receiver("always");
    await setRoute("hook-down.test", { type: "webhook", url: hook.url, secret: SECRET });
    const id = await stored(testDelivery(["carol@hook-down.test"]));
    const [step] = await waitForOnward(id, (steps) => expect(steps[0]).toMatchObject(attemptedFailing(1)));
    expect(Date.parse(step!.expiresAt) - Date.parse(step!.createdAt)).toBeGreaterThanOrEqual(2 * 86_400_000 - 1000);

    // Shortly before the expiry, a failed attempt leaves no time for another: the step fails.
    expect(await attemptOnward(env, step!.id, { now: Date.parse(step!.expiresAt) - 10_000 })).toEqual({ state: "failed" });
    const [failed] = await onwardOf(id);
    expect(failed).toMatchObject({
      state: "failed",
      attempts: 2,
      lastError: "HTTP 500: receiver down for maintenance",
      nextAttemptAt: null,
      doneAt: expect.any(String),
    });

    const list = (await (await api("/api/v1/onward?state=failed")).json()) as { items: OnwardRecord[] };
    expect(list.items.map((s) => s.id)).toContain(step!.id);
    expect((await api(`/api/v1/messages/${id}/raw`)).status).toBe(200);

    const retried = await api(`/api/v1/onward/${step!.id}/retry`, { method: "POST" });
    expect(retried.status).toBe(200);
    expect(await retried.json()).toMatchObject({ id: step!.id, state: "pending", attempts: 2 });
    expect((await api(`/api/v1/onward/${step!.id}/retry`, { method: "POST" })).status).toBe(409);
    expect((await api("/api/v1/onward/999999/retry", { method: "POST" })).status).toBe(404);
    // The retry is queued: the receiver is asked again.
    await waitForOnward(id, (steps) => expect(steps[0]).toMatchObject(attemptedFailing(3)));
  });

  it("fails a pending step whose expiry passed without an attempt, at the cron's sweep", async () => {
    const id = await stored(testDelivery(["dave@example.com"]));
    const hook = receiver("ok");
    const rowId = await insertOnward(id, hook.url, { nextAttemptAt: Date.now() - 120_000, expiresAt: Date.now() - 1_000 });
    expect(await sweepOnward(env)).toMatchObject({ expired: 1 });
    expect((await onwardOf(id)).find((s) => s.id === rowId)).toMatchObject({ state: "failed", attempts: 0, lastError: "expired after 0 attempt(s)" });
    expect(await webhookRequests(hook.path)).toEqual([]);
  });

  it("delivers a step whose queue message was lost: the cron re-queues it", async () => {
    const id = await stored(testDelivery(["erin@example.com"]));
    const hook = receiver("ok");
    await insertOnward(id, hook.url, { nextAttemptAt: Date.now() - 120_000, expiresAt: Date.now() + 86_400_000 });
    const ctx = createExecutionContext();
    await hub.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    await waitForOnward(id, (steps) => expect(steps.map((s) => s.state)).toEqual(["delivered"]));
    expect(await webhookRequests(hook.path)).toHaveLength(1);
  });

  it("stores the message while the queue refuses, and the cron's sweep attempts the step itself", async () => {
    const hook = receiver("ok");
    await setRoute("hook-noqueue.test", { type: "webhook", url: hook.url, secret: SECRET });
    const refused = new Error("queue unavailable");
    const queueDown = { ...env, ONWARD: { send: () => Promise.reject(refused), sendBatch: () => Promise.reject(refused) } } as unknown as Env;
    const result = await storeDelivery(queueDown, testDelivery(["ivan@hook-noqueue.test"]));
    expect(result.status).toBe("stored");
    const id = (result as { id: number }).id;
    expect(await onwardOf(id)).toMatchObject([{ state: "pending", attempts: 0 }]);
    expect(await webhookRequests(hook.path)).toEqual([]);

    // A minute later the sweep finds it overdue; with the queue still down it makes the attempt itself.
    const sweep = await sweepOnward(queueDown, { now: Date.now() + 61_000 });
    expect(sweep.queued).toBe(0);
    expect(sweep.attempted).toBeGreaterThanOrEqual(1);
    expect(await onwardOf(id)).toMatchObject([{ state: "delivered", attempts: 1 }]);
    expect(await webhookRequests(hook.path)).toHaveLength(1);
  });

  it("writes no second step, and posts once, for a delivery id handed over again", async () => {
    const hook = receiver("ok");
    await setRoute("hook-dup.test", { type: "webhook", url: hook.url, secret: SECRET });
    const d = testDelivery(["frank@hook-dup.test"]);
    const id = await stored(d);
    expect(await hubIngest.ingest(d)).toEqual({ status: "duplicate", id });
    await waitForOnward(id, (steps) => expect(steps.map((s) => s.state)).toEqual(["delivered"]));

    // Two hand-overs racing with a new delivery id: one stores, one is the duplicate, one step.
    const raced = testDelivery(["frank@hook-dup.test"]);
    const results = await Promise.all([hubIngest.ingest(raced), hubIngest.ingest(raced)]);
    expect(results.map((r) => r.status).sort()).toEqual(["duplicate", "stored"]);
    const racedId = (results[0] as { id: number }).id;
    await waitForOnward(racedId, (steps) => expect(steps.map((s) => s.state)).toEqual(["delivered"]));

    expect(await count("SELECT count(*) AS n FROM onward WHERE message_id IN (?, ?)", id, racedId)).toBe(2);
    const requests = await webhookRequests(hook.path);
    expect(requests.map((r) => r.headers["x-portcullis-delivery-id"]).sort()).toEqual([d.deliveryId, raced.deliveryId].sort());
  });

  it("never routes quarantined mail onward", async () => {
    const hook = receiver("ok");
    await setRoute("hook-quarantine.test", { type: "webhook", url: hook.url, secret: SECRET });
    const d = testDelivery(["grace@hook-quarantine.test"], { verdict: { action: "quarantine", scl: 7, agents: [] } });
    const id = await stored(d);
    expect(await onwardOf(id)).toEqual([]);
    expect(await count("SELECT count(*) AS n FROM onward WHERE message_id = ?", id)).toBe(0);
    // An accepted message to the same domain right after is routed, so the quiet above is not a slow queue.
    const accepted = await stored(testDelivery(["grace@hook-quarantine.test"]));
    await waitForOnward(accepted, (steps) => expect(steps.map((s) => s.state)).toEqual(["delivered"]));
    expect((await webhookRequests(hook.path)).map((r) => r.headers["x-portcullis-delivery-id"])).not.toContain(d.deliveryId);
  });

  it("routes each recipient by its domain's route: one step per distinct route", async () => {
    const shared = receiver("ok");
    const other = receiver("ok");
    await setRoute("multi-a.test", { type: "webhook", url: shared.url, secret: SECRET });
    await setRoute("multi-b.test", { type: "webhook", url: shared.url, secret: SECRET });
    await setRoute("multi-c.test", { type: "webhook", url: other.url, secret: SECRET });
    await setRoute("multi-d.test", { type: "mailbox" });
    const d = testDelivery(["u1@multi-a.test", "u2@Multi-B.test", "u3@multi-c.test", "u4@multi-d.test", "u5@not-accepted.test"]);
    const id = await stored(d);
    const steps = await waitForOnward(id, (s) => expect(s.map((x) => x.state)).toEqual(["delivered", "delivered"]));
    expect(steps.map((s) => [s.route, s.recipients])).toEqual([
      [{ type: "webhook", url: shared.url }, ["u1@multi-a.test", "u2@Multi-B.test"]],
      [{ type: "webhook", url: other.url }, ["u3@multi-c.test"]],
    ]);
    expect((await webhookRequests(shared.path)).map((r) => r.headers["x-portcullis-envelope-to"])).toEqual(["u1@multi-a.test, u2@Multi-B.test"]);
    expect((await webhookRequests(other.path)).map((r) => r.headers["x-portcullis-envelope-to"])).toEqual(["u3@multi-c.test"]);
  });

  it("does not follow redirects, and gives up on an attempt that gets no answer in time", async () => {
    const id = await stored(testDelivery(["heidi@example.com"]));
    const moved = receiver("redirect");
    const slow = receiver("slow-3000");
    const now = Date.now();
    const movedRow = await insertOnward(id, moved.url, { nextAttemptAt: now, expiresAt: now + 86_400_000 });
    const slowRow = await insertOnward(id, slow.url, { nextAttemptAt: now, expiresAt: now + 86_400_000 });
    expect(await attemptOnward(env, movedRow)).toMatchObject({ state: "pending" });
    expect(await attemptOnward(env, slowRow, { webhookTimeoutMs: 200 })).toMatchObject({ state: "pending" });
    const steps = await onwardOf(id);
    expect(steps.find((s) => s.id === movedRow)?.lastError).toBe("HTTP 307");
    expect(steps.find((s) => s.id === slowRow)?.lastError).toBe("no answer within 200 ms");
    expect(await webhookRequests("/elsewhere/ok")).toEqual([]);
  });
});
