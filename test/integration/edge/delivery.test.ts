import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handleEmail } from "../../../workers/edge/index.ts";
import { deliverToHubs } from "../../../workers/edge/deliver.ts";
import { deliverySettings } from "../../../shared/delivery/settings.ts";
import type { Delivery } from "../../../shared/delivery.ts";
import type { Policies } from "../../../shared/policy.ts";
import { bytesOf } from "../../helpers/mail.ts";
import { healthStub } from "../../../workers/edge/hubs.ts";
import { probeHubs } from "../../../workers/edge/probe.ts";
import { spoolIndex, spoolKey } from "../../../workers/edge/spool.ts";
import { mockEmail } from "../../helpers/email-event.ts";
import { chaos, chaosStats, edgeControl, storedBySubject, TWO_HUBS, useHubs, waitFor } from "../../helpers/delivery.ts";
import { migrateHub } from "../../helpers/hub.ts";
import { buildMessage } from "../../helpers/mail.ts";

beforeAll(async () => {
  await migrateHub();
});

beforeEach(async () => {
  await chaos("a", { mode: "up" });
  await chaos("b", { mode: "up" });
});

/** Sends one message for alice through email(); returns how the handler ended. */
async function send(subject: string): Promise<{ rejected: string | null; error: unknown }> {
  const email = mockEmail({ from: "sender@example.net", to: "alice@example.com", raw: buildMessage({ subject }) });
  const error = await handleEmail(email.message, env).then(
    () => null,
    (e: unknown) => e,
  );
  return { rejected: email.rejected(), error };
}

async function spooledSubjects(): Promise<string[]> {
  return (await edgeControl().spoolList({ state: "queued", limit: 500 })).items.map((i) => i.subject ?? "");
}

describe("delivery to upstream hubs", () => {
  it("delivers to the preferred hub (lowest priority number) when it is healthy", async () => {
    await useHubs(TWO_HUBS);
    expect(await send("prefers a")).toEqual({ rejected: null, error: null });
    expect(await storedBySubject("prefers a")).toBe(1);
    expect((await chaosStats("a")).passed).toBe(1);
    expect((await chaosStats("b")).calls).toBe(0);
  });

  it("fails over to the next hub within one delivery when the preferred one is down", async () => {
    await useHubs(TWO_HUBS);
    await chaos("a", { mode: "down" });
    expect(await send("failover")).toEqual({ rejected: null, error: null });
    expect(await storedBySubject("failover")).toBe(1);
    expect((await chaosStats("a")).down).toBe(1);
    expect((await chaosStats("b")).passed).toBe(1);
  });

  it("stores once when a hub took the message but the answer was lost (the next hub sees a duplicate)", async () => {
    await useHubs(TWO_HUBS);
    await chaos("a", { failAfter: 1 });
    expect(await send("answer lost")).toEqual({ rejected: null, error: null });
    expect((await chaosStats("a")).failedAfter).toBe(1);
    expect((await chaosStats("b")).passed).toBe(1);
    expect(await storedBySubject("answer lost")).toBe(1);
  });

  it("stores once when a hub accepts but answers after the attempt timed out", async () => {
    await useHubs(TWO_HUBS, { attemptTimeoutMs: 300 });
    await chaos("a", { late: 1, lateMs: 1500 });
    const started = Date.now();
    expect(await send("answers late")).toEqual({ rejected: null, error: null });
    expect(Date.now() - started).toBeLessThan(1400);
    expect((await chaosStats("b")).passed).toBe(1);
    expect(await storedBySubject("answers late")).toBe(1);
  });

  it("opens a hub's breaker after repeated failures, sends mail to the healthy hub first, and a probe closes it again", async () => {
    await useHubs(TWO_HUBS, { breakerFailures: 2, breakerOpenSeconds: 3600 });
    await chaos("a", { mode: "down" });
    for (const n of [1, 2]) expect((await send(`breaker ${n}`)).error).toBeNull();
    const report = await healthStub(env).report(3600);
    expect(report.hubs.find((h) => h.hubId === "hub-a")).toMatchObject({ state: "open", failures: 2 });
    // Open: hub A is no longer tried first.
    await chaos("a", { mode: "down" });
    expect((await send("breaker 3")).error).toBeNull();
    expect((await chaosStats("a")).calls).toBe(0);
    // The cron's active probe finds it back and closes the breaker.
    await chaos("a", { mode: "up" });
    const probed = await probeHubs(env);
    expect(probed.find((o) => o.hubId === "hub-a")?.ok).toBe(true);
    expect((await healthStub(env).report(3600)).hubs.find((h) => h.hubId === "hub-a")?.state).toBe("closed");
    expect((await edgeControl().hubHealth()).hubs.find((h) => h.hubId === "hub-a")?.recent[0]).toMatchObject({ kind: "probe", ok: true });
  });

  it("still tries a hub marked down before spooling when every hub is marked down", async () => {
    await useHubs(TWO_HUBS, { breakerFailures: 1, breakerOpenSeconds: 3600 });
    await chaos("a", { mode: "down" });
    await chaos("b", { mode: "down" });
    expect((await send("all marked down")).error).toBeNull();
    // Both breakers are open now; the hubs come back but nobody has probed them yet.
    await chaos("a", { mode: "up" });
    await chaos("b", { mode: "up" });
    expect((await send("tried anyway")).error).toBeNull();
    expect(await storedBySubject("tried anyway")).toBe(1);
  });

  it("spools when no hub takes the message, acknowledges the sender, and the queue delivers it once the hub is back", async () => {
    await useHubs(TWO_HUBS, { retryBaseSeconds: 1 });
    await chaos("a", { mode: "down" });
    await chaos("b", { mode: "down" });
    expect(await send("spooled")).toEqual({ rejected: null, error: null });
    expect(await storedBySubject("spooled")).toBe(0);
    const [item] = (await edgeControl().spoolList({ state: "queued" })).items.filter((i) => i.subject === "spooled");
    expect(item).toMatchObject({ state: "queued", attempts: 1, envelope: { from: "sender@example.net", to: ["alice@example.com"] } });
    expect(item!.lastError).toMatch(/hub is down/);
    expect(await env.SPOOL.head(spoolKey(env.EDGE_ID, item!.deliveryId))).not.toBeNull();

    await chaos("b", { mode: "up" });
    // The real queue consumer (this worker's queue()) retries after the backoff.
    await waitFor("the spooled message to be delivered", async () => (await storedBySubject("spooled")) === 1);
    await waitFor("the spool copy to be deleted", async () => (await env.SPOOL.head(spoolKey(env.EDGE_ID, item!.deliveryId))) === null);
    expect(await spoolIndex(env).get(item!.deliveryId)).toBeNull();
    expect(await storedBySubject("spooled")).toBe(1);
    expect(await spooledSubjects()).not.toContain("spooled");
  });

  it("flapping hubs: whichever is up takes each message, the rest wait in the spool, and every message arrives once", async () => {
    await useHubs(TWO_HUBS, { retryBaseSeconds: 1, retryMaxSeconds: 1, breakerFailures: 1, breakerOpenSeconds: 1 });
    const states: ["up" | "down", "up" | "down"][] = [
      ["up", "down"],
      ["down", "up"],
      ["down", "down"],
      ["up", "up"],
      ["down", "up"],
      ["up", "down"],
      ["down", "down"],
    ];
    const subjects: string[] = [];
    for (const [i, [a, b]] of states.entries()) {
      await chaos("a", { mode: a });
      await chaos("b", { mode: b });
      for (let n = 0; n < 3; n++) {
        const subject = `flap ${i}.${n}`;
        subjects.push(subject);
        expect((await send(subject)).error).toBeNull();
      }
    }
    await chaos("a", { mode: "up" });
    await chaos("b", { mode: "up" });
    for (const subject of subjects) await waitFor(`${subject} delivered`, async () => (await storedBySubject(subject)) > 0);
    for (const subject of subjects) expect(await storedBySubject(subject)).toBe(1);
  });

  it("a hub that hangs costs one attempt timeout, not the whole handler", async () => {
    await useHubs(TWO_HUBS, { attemptTimeoutMs: 200, budgetMs: 1000, retryBaseSeconds: 3600 });
    await chaos("a", { mode: "hang", hangMs: 5000 });
    await chaos("b", { mode: "hang", hangMs: 5000 });
    const started = Date.now();
    expect((await send("both hang")).error).toBeNull();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await spooledSubjects()).toContain("both hang");
  });

  it("delivers over signed HTTPS to a hub without a service binding, once per delivery id, and probes it", async () => {
    const hubs: Policies["hubs"] = [{ id: "hub-https", transport: "https", url: "https://hub.portcullis.test", priority: 0, weight: 1, maxConcurrency: 10 }];
    await useHubs(hubs);
    // The hub's own HTTP face answers; only the network in between is replaced.
    const requests: string[] = [];
    const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      requests.push(`${request.method} ${new URL(request.url).pathname}`);
      return env.HUB_API.fetch(request);
    }) as typeof fetch;
    const delivery: Delivery = {
      deliveryId: crypto.randomUUID(),
      edgeId: env.EDGE_ID,
      envelope: { from: "sender@example.net", to: ["alice@example.com"] },
      raw: bytesOf(buildMessage({ subject: "over https" })),
      receivedAt: new Date().toISOString(),
      subject: "over https",
      messageId: null,
      verdict: { action: "accept", scl: 1, agents: [] },
    };
    const settings = deliverySettings(null);
    expect(await deliverToHubs(env, delivery, { hubs, settings, fetcher })).toMatchObject({ delivered: true, hubId: "hub-https", status: "stored" });
    expect(await deliverToHubs(env, delivery, { hubs, settings, fetcher })).toMatchObject({ delivered: true, status: "duplicate" });
    expect(await storedBySubject("over https")).toBe(1);
    expect(requests).toEqual(["POST /_portcullis/ingest", "POST /_portcullis/ingest"]);
    const [probe] = await probeHubs(env, fetcher);
    expect(probe).toMatchObject({ hubId: "hub-https", ok: true, kind: "probe" });
    expect(requests.at(-1)).toBe("GET /_portcullis/ping");
  });

  it("a hub that answers HTTPS with a server error is a failed attempt, not a delivery", async () => {
    const hubs: Policies["hubs"] = [
      { id: "hub-broken", transport: "https", url: "https://broken.portcullis.test", priority: 0, weight: 1, maxConcurrency: 10 },
    ];
    await useHubs(hubs);
    const fetcher = (async () => new Response("upstream exploded", { status: 502 })) as unknown as typeof fetch;
    const delivery: Delivery = {
      deliveryId: crypto.randomUUID(),
      edgeId: env.EDGE_ID,
      envelope: { from: "sender@example.net", to: ["alice@example.com"] },
      raw: bytesOf(buildMessage({ subject: "502" })),
      receivedAt: new Date().toISOString(),
      subject: "502",
      messageId: null,
      verdict: { action: "accept", scl: 1, agents: [] },
    };
    const outcome = await deliverToHubs(env, delivery, { hubs, settings: deliverySettings(null), fetcher });
    expect(outcome).toMatchObject({ delivered: false, refused: false, attempts: [{ hubId: "hub-broken", ok: false, error: expect.stringMatching(/502/) }] });
  });
});
