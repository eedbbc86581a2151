import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { deliverySettings } from "../../../shared/delivery/settings.ts";
import type { Policies } from "../../../shared/policy.ts";
import { deliverToHubs } from "../../../workers/edge/deliver.ts";
import { DEFAULT_HUBS, DEFAULT_STANDBY_HUB, edgeHubs } from "../../../workers/edge/hubs.ts";
import type { EdgeControlApi } from "../../../shared/directory/publish-api.ts";
import { chaos, forgetHealth, storedCount } from "../../helpers/delivery.ts";
import { hubApi, migrateHub } from "../../helpers/hub.ts";
import { buildMessage, bytesOf } from "../../helpers/mail.ts";
import type { Delivery } from "../../../shared/delivery.ts";

/** The primary behind chaos-hub-a (so it can be taken down), the standby behind the edge's HUB_STANDBY binding. */
const HUBS: Policies["hubs"] = [
  { id: "primary", transport: "binding", binding: "HUB_A", priority: 0, weight: 1, maxConcurrency: 100 },
  { id: "standby", transport: "binding", binding: "HUB_STANDBY", priority: 1, weight: 1, maxConcurrency: 100 },
];
const settings = deliverySettings(null);

/** A delivery as the edge hands it over: a fresh delivery id, accepted, for alice. */
function testDelivery(subject: string): Delivery {
  return {
    deliveryId: crypto.randomUUID(),
    edgeId: env.EDGE_ID,
    envelope: { from: "sender@example.net", to: ["alice@example.com"] },
    raw: bytesOf(buildMessage({ subject })),
    receivedAt: new Date().toISOString(),
    subject,
    messageId: `<${crypto.randomUUID()}@example.net>`,
    verdict: { action: "accept", scl: 0, agents: [] },
  };
}

/** Calls the standby hub's admin API with the test token. */
async function standbyApi<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${env.TEST_ADMIN_TOKEN}`);
  const res = await env.HUB_STANDBY_API.fetch(`http://standby${path}`, { ...init, headers });
  if (!res.ok) throw new Error(`standby ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

interface StandbyReport {
  primary: { up: boolean; hubId?: string };
  restored: { key: string; root: string; verified: boolean } | null;
  handBack: { handedBack: number; duplicates: number; failed: number; remaining: number } | null;
  sync: { root: string | null; edges: { id: string; status: string }[] } | null;
}
const standbyRound = () => standbyApi<StandbyReport>("/api/v1/backups/standby/run", { method: "POST" });

/** Fails the test unless the hub took the change. */
async function ok(res: Promise<Response>): Promise<void> {
  const r = await res;
  if (r.status >= 300) throw new Error(`${r.status} ${await r.text()}`);
}

async function standbyCount(sql: string, ...params: unknown[]): Promise<number> {
  return (await env.HUB_STANDBY_DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;
}

beforeAll(async () => {
  await migrateHub();
  await applyD1Migrations(env.HUB_STANDBY_DB, env.TEST_MIGRATIONS);
});

describe("the standby hub", () => {
  it("is in an edge's default hub list, behind HUB, when the edge binds HUB_STANDBY", () => {
    expect(edgeHubs(env)(null).map((h) => [h.binding, h.priority])).toEqual([
      ["HUB", 0],
      ["HUB_STANDBY", 1],
    ]);
    expect(edgeHubs({ ...env, HUB_STANDBY: undefined } as unknown as Env)(null)).toEqual(DEFAULT_HUBS);
    // A `hubs` policy is taken as it is.
    expect(edgeHubs(env)(HUBS)).toEqual(HUBS);
    expect(DEFAULT_STANDBY_HUB.priority).toBeGreaterThan(DEFAULT_HUBS[0]!.priority);
  });

  it("takes the mail while the primary is down, syncs the edge, and hands every message back exactly once when the primary returns", async () => {
    await chaos("a", { mode: "up" });
    // The primary's directory, with this edge registered, exported to the shared BACKUP bucket.
    const put = (path: string, body: unknown) => hubApi(path, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    await ok(put("/api/v1/domains/example.com", {}));
    expect(
      (
        await hubApi("/api/v1/recipients", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify([{ address: "alice@example.com" }, { address: "bob@example.com" }]),
        })
      ).status,
    ).toBeLessThan(300);
    await ok(put("/api/v1/edges/edge-test", { transport: "binding", binding: "EDGE" }));
    const exported = (await (await hubApi("/api/v1/backups", { method: "POST" })).json()) as { key: string; root: string };
    expect(exported.key).toMatch(/^exports\/hub-local\//);

    // Primary up: the standby restores the export and does not sync.
    const following = await standbyRound();
    expect(following.primary).toMatchObject({ up: true, hubId: "hub-local" });
    expect(following.restored).toMatchObject({ key: exported.key, root: exported.root, verified: true });
    expect(following.sync).toBeNull();
    expect(await standbyCount("SELECT COUNT(*) AS n FROM recipients")).toBe(2);

    // A message the primary stores while up; one whose answer is lost as the primary dies (the
    // edge fails over, so both hubs have it); then the primary is down and the standby takes the rest.
    await forgetHealth(["primary", "standby"]);
    const before = testDelivery("before the outage");
    expect(await deliverToHubs(env, before, { hubs: HUBS, settings })).toMatchObject({ delivered: true, hubId: "primary" });
    await chaos("a", { failAfter: 1 });
    const lost = testDelivery("answer lost");
    const lostOutcome = await deliverToHubs(env, lost, { hubs: HUBS, settings });
    expect(lostOutcome).toMatchObject({ delivered: true, hubId: "standby" });
    expect(await storedCount(lost.deliveryId)).toBe(1);
    await chaos("a", { mode: "down" });
    const during = Array.from({ length: 12 }, (_, i) => testDelivery(`during the outage ${i}`));
    for (const d of during) expect(await deliverToHubs(env, d, { hubs: HUBS, settings })).toMatchObject({ delivered: true, hubId: "standby" });
    const held = [lost, ...during].map((d) => d.deliveryId);
    expect(await standbyCount(`SELECT COUNT(*) AS n FROM messages WHERE standby_state = 'held'`)).toBe(held.length);
    for (const id of during.map((d) => d.deliveryId)) expect(await storedCount(id)).toBe(0);

    // Primary down: the standby syncs the edge under the edge's lease, with the export's root.
    const syncing = await standbyRound();
    expect(syncing.primary.up).toBe(false);
    expect(syncing.handBack).toBeNull();
    expect(syncing.sync?.edges).toEqual([{ id: "edge-test", status: expect.stringMatching(/^(committed|unchanged)$/) }]);
    expect(syncing.sync?.root).toBe(exported.root);
    const edge = env.STANDBY_EDGE as unknown as EdgeControlApi;
    expect((await edge.status()).current?.root).toBe(exported.root);

    // Primary back: every held message handed back with its delivery id; the lost one is a duplicate.
    await chaos("a", { mode: "up" });
    const back = await standbyRound();
    expect(back.primary.up).toBe(true);
    expect(back.sync).toBeNull();
    expect(back.handBack).toEqual({ handedBack: held.length, duplicates: 1, failed: 0, remaining: 0 });
    for (const d of [before, lost, ...during]) expect(await storedCount(d.deliveryId), d.subject ?? "").toBe(1);
    expect(await standbyCount(`SELECT COUNT(*) AS n FROM messages WHERE standby_state = 'handed_back'`)).toBe(held.length);

    // Nothing more to hand back, and nothing stored twice on another round.
    expect((await standbyRound()).handBack).toEqual({ handedBack: 0, duplicates: 0, failed: 0, remaining: 0 });
    for (const d of [before, lost, ...during]) expect(await storedCount(d.deliveryId)).toBe(1);
  });
});
