import { env } from "cloudflare:workers";
import type { Policies } from "../../shared/policy.ts";
import { healthStub, resetHealthView } from "../../workers/edge/hubs.ts";
import { DEMO_DIRECTORY, seedEdgeDirectory } from "./edge-directory.ts";

export interface ChaosConfig {
  mode?: "up" | "down" | "hang";
  failBefore?: number;
  failAfter?: number;
  late?: number;
  lateMs?: number;
  hangMs?: number;
  seed?: number;
}

export interface ChaosStats {
  calls: number;
  passed: number;
  failedBefore: number;
  failedAfter: number;
  late: number;
  down: number;
}

/** Sets a test hub's fault injection (test/fixtures/chaos-hub.js); resets its counters. */
export async function chaos(hub: "a" | "b", config: ChaosConfig): Promise<void> {
  const res = await (hub === "a" ? env.CHAOS_A : env.CHAOS_B).fetch("http://chaos/config", { method: "POST", body: JSON.stringify(config) });
  if (!res.ok) throw new Error(`chaos config failed: ${res.status}`);
}

export async function chaosStats(hub: "a" | "b"): Promise<ChaosStats> {
  return (await (hub === "a" ? env.CHAOS_A : env.CHAOS_B).fetch("http://chaos/stats")).json();
}

/** Two hubs: A preferred (priority 10), B the backup (priority 20), both over service bindings. */
export const TWO_HUBS: Policies["hubs"] = [
  { id: "hub-a", transport: "binding", binding: "HUB_A", priority: 10, weight: 1, maxConcurrency: 100 },
  { id: "hub-b", transport: "binding", binding: "HUB_B", priority: 20, weight: 1, maxConcurrency: 100 },
];

/** Publishes the demo directory with these delivery policies and forgets every hub's health. */
export async function useHubs(hubs: Policies["hubs"], delivery: Policies["delivery"] = {}): Promise<void> {
  const pushed = await seedEdgeDirectory({ ...DEMO_DIRECTORY, policies: { hubs, delivery } });
  if (pushed.status !== "committed" && pushed.status !== "unchanged") throw new Error(`directory not committed: ${JSON.stringify(pushed)}`);
  await forgetHealth(hubs.map((h) => h.id));
}

export async function forgetHealth(hubIds: string[]): Promise<void> {
  for (const id of hubIds) await healthStub(env).forget(id);
  resetHealthView();
}

/** The edge under test's control surface, as a hub calls it. */
export { edgeDirectory as edgeControl } from "./edge-directory.ts";

/** Rows the hub stored for a delivery id (exactly-once checks). */
export async function storedCount(deliveryId: string): Promise<number> {
  const row = await env.HUB_DB.prepare("SELECT COUNT(*) AS n FROM messages WHERE delivery_id = ?").bind(deliveryId).first<{ n: number }>();
  return row?.n ?? 0;
}

/** Rows the hub stored per subject (the tests' way to find a message whose delivery id they never saw). */
export async function storedBySubject(subject: string): Promise<number> {
  const row = await env.HUB_DB.prepare("SELECT COUNT(*) AS n FROM messages WHERE subject = ?").bind(subject).first<{ n: number }>();
  return row?.n ?? 0;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
