import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect, vi } from "vitest";
import type { Delivery, HubIngestApi } from "../../../shared/delivery.ts";
import type { OnwardRecord } from "../../../workers/hub/db/onward.ts";
import { scheduler } from "../../../workers/hub/sync/trigger.ts";
import { buildMessage, bytesOf } from "../../helpers/mail.ts";
import type { RecordedRequest } from "./outbound.ts";

/** Calls the hub's own fetch handler with the admin token (or another, or none with `token: null`). */
export function api(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? env.ADMIN_TOKEN : init.token;
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  return exports.default.fetch(new Request(`http://hub${path}`, { ...init, headers }));
}

/** The `n` column of a COUNT(*) AS n query against the hub's D1. */
export async function count(sql: string, ...params: unknown[]): Promise<number> {
  return (await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;
}

/**
 * Runs `change` and checks that it asked for a sync: the scheduler's alarm, parked an hour out
 * first, is brought forward (or has already fired).
 */
export async function expectSyncRequested(change: () => Promise<void>): Promise<void> {
  const parked = Date.now() + 3_600_000;
  await runInDurableObject(scheduler(env), (_, state) => state.storage.setAlarm(parked));
  await change();
  await vi.waitFor(async () => {
    const alarm = await runInDurableObject(scheduler(env), (_, state) => state.storage.getAlarm());
    expect(alarm === null || alarm < parked).toBe(true);
  });
}

/** Runs `change` and checks that it did not ask for a sync. */
export async function expectNoSyncRequested(change: () => Promise<void>): Promise<void> {
  const parked = Date.now() + 3_600_000;
  await runInDurableObject(scheduler(env), (_, state) => state.storage.setAlarm(parked));
  await change();
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(await runInDurableObject(scheduler(env), (_, state) => state.storage.getAlarm())).toBe(parked);
}

/** The hub's RPC entrypoint for edges, as an edge sees it. */
export const hubIngest = exports.HubIngest as unknown as HubIngestApi;

/** A hand-over as an edge makes it: a fresh delivery id, accepted with SCL 0, for `to`. */
export function testDelivery(to: string[] = ["alice@example.com"], overrides: Partial<Delivery> = {}): Delivery {
  return {
    deliveryId: crypto.randomUUID(),
    edgeId: "edge-test",
    envelope: { from: "sender@example.net", to },
    raw: bytesOf(buildMessage({ to: to.join(", ") })),
    receivedAt: new Date().toISOString(),
    subject: "Test message",
    messageId: "<m@example.net>",
    verdict: { action: "accept", scl: 0, agents: [{ agent: "limits", result: "pass", reason: "ok" }] },
    ...overrides,
  };
}

/** Sets a domain's route through the admin API (accepting the domain if needed); fails the test unless it is taken. */
export async function setRoute(domain: string, route: unknown): Promise<void> {
  const res = await api(`/api/v1/domains/${domain}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ route }) });
  if (res.status !== 200 && res.status !== 201) throw new Error(`route for ${domain} refused: ${res.status} ${await res.text()}`);
}

/** What the test webhook receiver (test/integration/hub/outbound.ts) recorded for one path. */
export async function webhookRequests(path: string): Promise<RecordedRequest[]> {
  return (await fetch(`https://webhook.test/_requests${path}`)).json();
}

/** A message's onward steps as the admin API shows them. */
export async function onwardOf(messageId: number): Promise<OnwardRecord[]> {
  const res = await api(`/api/v1/messages/${messageId}`);
  if (res.status !== 200) throw new Error(`message ${messageId}: ${res.status}`);
  return ((await res.json()) as { onward: OnwardRecord[] }).onward;
}

/** Waits until a message's onward steps satisfy `check` (the hub's queue consumer runs on its own); returns them. */
export function waitForOnward(messageId: number, check: (steps: OnwardRecord[]) => void): Promise<OnwardRecord[]> {
  return vi.waitFor(
    async () => {
      const steps = await onwardOf(messageId);
      check(steps);
      return steps;
    },
    { timeout: 15_000, interval: 100 },
  );
}

/** Matches a step whose `attempts`-th attempt has finished and failed (a step being attempted already counts the attempt, but has no error yet). */
export function attemptedFailing(attempts: number): Partial<OnwardRecord> {
  return { attempts, state: "pending", lastError: expect.any(String) };
}
