import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import PostalMime from "postal-mime";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handleEmail } from "../../../workers/edge/index.ts";
import { deadKey, processSpoolBatch, spoolIndex, spoolKey, type SpoolDeps, type SpoolTask } from "../../../workers/edge/spool.ts";
import { mockEmail } from "../../helpers/email-event.ts";
import { chaos, edgeControl, storedBySubject, storedCount, TWO_HUBS, useHubs } from "../../helpers/delivery.ts";
import { migrateHub } from "../../helpers/hub.ts";
import { buildMessage } from "../../helpers/mail.ts";

const HOUR = 3_600_000;

/** The consumer's environment with a DSN sender address set. */
const dsnEnv = { ...env, DSN_FROM: "postmaster@example.com" } as unknown as Env;

interface Sent {
  from: string;
  to: string;
  raw: Uint8Array;
}

/** Consumer dependencies that keep every DSN and can move the clock forward. */
function deps(offsetMs = 0, extra: Partial<SpoolDeps> = {}): SpoolDeps & { sent: Sent[] } {
  const sent: Sent[] = [];
  return { mailer: { send: async (from, to, raw) => void sent.push({ from, to, raw }) }, now: () => Date.now() + offsetMs, sent, ...extra };
}

/** Runs one queue delivery of these ids through the consumer, as Queues would. */
async function consume(ids: string[], d: SpoolDeps): Promise<{ results: Awaited<ReturnType<typeof processSpoolBatch>>; retried: string[]; acked: string[] }> {
  const batch = createMessageBatch<SpoolTask>(
    "portcullis-spool",
    ids.map((deliveryId, i) => ({ id: `m${i}-${deliveryId}`, timestamp: Date.now(), attempts: 1, body: { deliveryId } })),
  );
  const ctx = createExecutionContext();
  const results = await processSpoolBatch(batch, dsnEnv, d);
  const outcome = await getQueueResult(batch, ctx);
  return { results, retried: outcome.retryMessages.map((m) => m.msgId), acked: outcome.explicitAcks };
}

/** Sends a message while both hubs are down; returns its spooled delivery id. */
async function spool(subject: string, from = "sender@example.net", extraHeaders = ""): Promise<string> {
  await chaos("a", { mode: "down" });
  await chaos("b", { mode: "down" });
  const raw = extraHeaders + buildMessage({ subject });
  const email = mockEmail({ from, to: "alice@example.com", raw });
  await handleEmail(email.message, env);
  const item = (await edgeControl().spoolList({ state: "queued", limit: 500 })).items.find((i) => i.subject === subject);
  if (!item) throw new Error(`${subject} was not spooled`);
  return item.deliveryId;
}

beforeAll(async () => {
  await migrateHub();
});

beforeEach(async () => {
  // Long backoff: the real queue consumer stays out of these tests, which drive it by hand.
  await useHubs(TWO_HUBS, { retryBaseSeconds: 3600, retryMaxSeconds: 7200, delayNoticeAfterSeconds: 4 * 3600, expireAfterSeconds: 48 * 3600 });
});

describe("the spool consumer", () => {
  it("retries with exponential backoff while the hubs are down, recording each attempt", async () => {
    const id = await spool("backoff");
    const first = await consume([id], deps());
    expect(first.results[0]).toMatchObject({ outcome: "retry", delaySeconds: 7200 });
    expect(first.retried).toHaveLength(1);
    const item = await spoolIndex(env).get(id);
    expect(item).toMatchObject({ state: "queued", attempts: 2, lastHub: "hub-b" });
    expect(item!.lastError).toMatch(/hub is down/);
    expect(await env.SPOOL.head(spoolKey(env.EDGE_ID, id))).not.toBeNull();
  });

  it("delivers once a hub is back, deletes the spool copy only then, and acknowledges", async () => {
    const id = await spool("back again");
    await chaos("a", { mode: "up" });
    const { results, acked } = await consume([id], deps());
    expect(results[0]).toEqual({ outcome: "delivered", hubId: "hub-a" });
    expect(acked).toHaveLength(1);
    expect(await storedCount(id)).toBe(1);
    expect(await env.SPOOL.head(spoolKey(env.EDGE_ID, id))).toBeNull();
    expect(await spoolIndex(env).get(id)).toBeNull();
  });

  it("a crash between the hub's acceptance and the spool deletion delivers nothing twice", async () => {
    const id = await spool("crash after accept");
    await chaos("a", { mode: "up" });
    const crashing = deps(0, {
      afterAccepted: async () => {
        throw new Error("isolate lost after the hub confirmed");
      },
    });
    const crashed = await consume([id], crashing);
    expect(crashed.retried).toHaveLength(1);
    expect(await storedCount(id)).toBe(1);
    // Still spooled: the hub's confirmation was never acted on. The claim lapses; the next run redelivers.
    expect(await env.SPOOL.head(spoolKey(env.EDGE_ID, id))).not.toBeNull();
    const later = await consume([id], deps(2 * 60_000));
    expect(later.results[0]).toMatchObject({ outcome: "delivered" });
    expect(await storedCount(id)).toBe(1);
    expect(await env.SPOOL.head(spoolKey(env.EDGE_ID, id))).toBeNull();
  });

  it("sends one RFC 3464 delay notice once the message has waited long enough", async () => {
    const id = await spool("slow going");
    const d = deps(5 * HOUR);
    await consume([id], d);
    expect(d.sent).toHaveLength(1);
    expect(d.sent[0]).toMatchObject({ from: "postmaster@example.com", to: "sender@example.net" });
    const dsn = await PostalMime.parse(d.sent[0]!.raw);
    expect(dsn.headers.find((h) => h.key === "content-type")?.value).toMatch(/multipart\/report;.*report-type=delivery-status/);
    expect(dsn.subject).toMatch(/^Delivery delayed: slow going/);
    const status = dsn.attachments.find((a) => a.mimeType === "message/delivery-status");
    expect(new TextDecoder().decode(status!.content as ArrayBuffer)).toMatch(/Action: delayed[\s\S]*Status: 4\.4\.1/);
    expect((await spoolIndex(env).get(id))?.delayNotifiedAt).not.toBeNull();
    // Only once.
    await consume([id], d);
    expect(d.sent).toHaveLength(1);
  });

  it("past expiry: a non-delivery report, the dead-letter store, and nothing left in the spool", async () => {
    const id = await spool("expires");
    const d = deps(49 * HOUR);
    const { results, acked } = await consume([id], d);
    expect(results[0]).toMatchObject({ outcome: "dead" });
    expect(acked).toHaveLength(1);
    expect(d.sent).toHaveLength(1);
    const ndr = await PostalMime.parse(d.sent[0]!.raw);
    expect(ndr.subject).toMatch(/^Undeliverable: expires/);
    const status = ndr.attachments.find((a) => a.mimeType === "message/delivery-status");
    expect(new TextDecoder().decode(status!.content as ArrayBuffer)).toMatch(/Action: failed[\s\S]*Status: 5\.4\.7/);
    expect(await env.SPOOL.head(spoolKey(env.EDGE_ID, id))).toBeNull();
    expect(await env.SPOOL.head(deadKey(env.EDGE_ID, id))).not.toBeNull();
    const dead = await edgeControl().spoolList({ state: "dead" });
    expect(dead.items.find((i) => i.deliveryId === id)).toMatchObject({ state: "dead", reason: expect.stringMatching(/^expired after 49 h/) });
    expect(await storedCount(id)).toBe(0);
  });

  it("never sends a DSN to the null sender or in answer to a DSN", async () => {
    const nullSender = await spool("from nobody", "");
    const report = await spool("a bounce", "bounces@example.net", "Auto-Submitted: auto-replied\r\n");
    const d = deps(49 * HOUR);
    const { results } = await consume([nullSender, report], d);
    expect(results.map((r) => r.outcome)).toEqual(["dead", "dead"]);
    expect(d.sent).toHaveLength(0);
  });
});

describe("the queue viewer (through the edge's control entrypoint)", () => {
  it("lists, inspects, suspends, resumes, retries and deletes spooled messages", async () => {
    const id = await spool("viewer");
    const control = edgeControl();
    const page = await control.spoolList({ state: "queued" });
    expect(page.counts.queued).toBeGreaterThanOrEqual(1);
    expect(page.oldestQueuedAt).not.toBeNull();
    expect(await control.spoolGet(id)).toMatchObject({ deliveryId: id, state: "queued", subject: "viewer" });

    expect(await control.spoolSuspend(id)).toMatchObject({ ok: true, item: { state: "suspended" } });
    // A suspended message is left alone by the consumer.
    expect((await consume([id], deps())).results[0]).toMatchObject({ outcome: "skipped" });
    expect(await control.spoolSuspend(id)).toMatchObject({ ok: false, error: "conflict" });
    expect(await control.spoolResume(id)).toMatchObject({ ok: true, item: { state: "queued" } });

    await chaos("b", { mode: "up" });
    expect(await control.spoolRetry(id)).toMatchObject({ ok: true });
    // Retry now queues it at once; the consumer delivers it.
    expect((await consume([id], deps())).results[0]).toMatchObject({ outcome: "delivered", hubId: "hub-b" });
    expect(await storedBySubject("viewer")).toBe(1);

    const doomed = await spool("unwanted");
    expect(await control.spoolDelete(doomed, "  ")).toMatchObject({ ok: false, error: "invalid", message: expect.stringMatching(/reason/) });
    expect(await control.spoolDelete(doomed, "spam run reported by the customer")).toMatchObject({
      ok: true,
      item: { state: "deleted", reason: "spam run reported by the customer" },
    });
    expect(await env.SPOOL.head(spoolKey(env.EDGE_ID, doomed))).toBeNull();
    expect((await consume([doomed], deps())).results[0]).toMatchObject({ outcome: "skipped" });
    expect(await control.spoolRetry(crypto.randomUUID())).toMatchObject({ ok: false, error: "not_found" });
  });

  it("brings a dead-lettered message back with retry, with a fresh expiry", async () => {
    const id = await spool("resurrect");
    await consume([id], deps(49 * HOUR));
    expect((await spoolIndex(env).get(id))?.state).toBe("dead");
    await chaos("a", { mode: "up" });
    expect(await edgeControl().spoolRetry(id)).toMatchObject({ ok: true, item: { state: "queued" } });
    expect(await env.SPOOL.head(spoolKey(env.EDGE_ID, id))).not.toBeNull();
    expect((await consume([id], deps())).results[0]).toMatchObject({ outcome: "delivered" });
    expect(await storedCount(id)).toBe(1);
  });
});
