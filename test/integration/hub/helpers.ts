import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { scheduler } from "../../../workers/hub/sync/trigger.ts";

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
