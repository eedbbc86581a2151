import type { HubIngestApi } from "../../shared/delivery.ts";
import { afterOutcome, breakerState, CLOSED, type BreakerRecord, type BreakerState } from "../../shared/delivery/breaker.ts";
import type { HubHealthReport, HubOutcome } from "../../shared/delivery/health.ts";
import { httpHubIngest } from "../../shared/delivery/ingest-http.ts";
import { type HubConfig, hubsFrom } from "../../shared/delivery/router.ts";
import type { Policies } from "../../shared/policy.ts";
import type { DeliverySettings } from "../../shared/delivery/settings.ts";
import type { HubHealthObject } from "./health.do.ts";
import { edgeLog } from "../../shared/log.ts";

/**
 * How long an isolate trusts the breaker states it read from the health object before asking
 * again. Outcomes seen in this isolate apply at once; others' are seen within this time.
 */
export const HUB_HEALTH_TTL_MS = 2_000;

export { DEFAULT_HUBS, DEFAULT_STANDBY_HUB, hubsFrom } from "../../shared/delivery/router.ts";

/**
 * This edge's hub list for a `hubs` policy (or none): without a policy, HUB and — when this
 * deployment binds one — the standby hub (HUB_STANDBY) behind it.
 *
 * @example
 * const hubs = await readPolicy(directory, "hubs").then(edgeHubs(env));
 */
export function edgeHubs(env: Env): (policy: Policies["hubs"] | null) => HubConfig[] {
  const standby = (env as unknown as Record<string, unknown>).HUB_STANDBY !== undefined;
  return (policy) => hubsFrom(policy, { standby });
}

/** A hub the policy names but this edge cannot reach as configured (missing binding, no URL). */
export class HubConfigError extends Error {
  override name = "HubConfigError";
}

/**
 * The client for one hub: its service binding (RPC), or signed HTTPS to its URL with the
 * SYNC_SIGNING_KEY both share. Forward "hubs" have no client; deliver.ts forwards them.
 */
export function hubClient(env: Env, hub: HubConfig, fetcher?: typeof fetch): HubIngestApi {
  if (hub.transport === "binding") {
    const name = hub.binding ?? "";
    const binding = (env as unknown as Record<string, unknown>)[name] as HubIngestApi | undefined;
    if (binding === undefined || name === "") throw new HubConfigError(`hub ${hub.id}: this edge has no service binding named ${name || "(none)"}`);
    return binding;
  }
  if (hub.transport === "https") {
    if (hub.url === undefined) throw new HubConfigError(`hub ${hub.id}: transport https needs a url`);
    return httpHubIngest(hub.url, env.SYNC_SIGNING_KEY, fetcher);
  }
  throw new HubConfigError(`hub ${hub.id}: transport ${hub.transport} has no ingest client`);
}

export function healthStub(env: Env): DurableObjectStub<HubHealthObject> {
  return env.HUB_HEALTH.get(env.HUB_HEALTH.idFromName("hubs"));
}

/**
 * The isolate's view of hub health: breaker records read from the health object (refreshed every
 * HUB_HEALTH_TTL_MS), updated locally by this isolate's own outcomes, and the number of attempts
 * in flight per hub (for the concurrency cap).
 */
class HealthView {
  records = new Map<string, BreakerRecord>();
  readAt = -Infinity;
  inFlight = new Map<string, number>();

  apply(report: HubHealthReport, now: number): void {
    this.records = new Map(report.hubs.map((h) => [h.hubId, { failures: h.failures, openedAt: h.openedAt }]));
    this.readAt = now;
  }
}

const view = new HealthView();

/** Forgets the isolate's view (tests; a changed policy). */
export function resetHealthView(): void {
  view.records.clear();
  view.readAt = -Infinity;
  view.inFlight.clear();
}

/** Breaker states as this isolate sees them; refreshes from the health object when stale (a failing object leaves the last view in place). */
export async function hubStates(env: Env, settings: DeliverySettings, now = Date.now()): Promise<(hubId: string) => BreakerState> {
  if (now - view.readAt > HUB_HEALTH_TTL_MS) {
    try {
      view.apply(await healthStub(env).report(settings.breakerOpenSeconds), now);
    } catch (err) {
      // Health is advice: without it every hub is tried in policy order.
      edgeLog(env.EDGE_ID).error("hub_health_unavailable", { error: String(err) });
      view.readAt = now;
    }
  }
  return (hubId) => breakerState(view.records.get(hubId) ?? CLOSED, now, settings.breakerOpenSeconds);
}

export function isBusy(hub: HubConfig): boolean {
  return (view.inFlight.get(hub.id) ?? 0) >= hub.maxConcurrency;
}

export function enter(hubId: string): void {
  view.inFlight.set(hubId, (view.inFlight.get(hubId) ?? 0) + 1);
}

export function leave(hubId: string): void {
  const n = (view.inFlight.get(hubId) ?? 1) - 1;
  if (n <= 0) view.inFlight.delete(hubId);
  else view.inFlight.set(hubId, n);
}

/**
 * Applies outcomes to this isolate's view at once and returns the ones worth telling the health
 * object: every failure, and a success only where it closes something (steady-state successes
 * stay off the object).
 */
export function noteOutcomes(outcomes: HubOutcome[], settings: DeliverySettings): HubOutcome[] {
  const report: HubOutcome[] = [];
  for (const o of outcomes) {
    const before = view.records.get(o.hubId) ?? CLOSED;
    if (!o.ok || before.failures > 0 || before.openedAt !== null) report.push(o);
    view.records.set(o.hubId, afterOutcome(before, o.ok, o.at, settings.breakerFailures, settings.breakerOpenSeconds));
  }
  return report;
}

/** Sends outcomes to the health object; never throws (health is advice, delivery goes on). */
export async function reportOutcomes(env: Env, outcomes: HubOutcome[], settings: DeliverySettings): Promise<void> {
  if (outcomes.length === 0) return;
  try {
    await healthStub(env).record(outcomes, settings.breakerFailures, settings.breakerOpenSeconds);
  } catch (err) {
    edgeLog(env.EDGE_ID).error("hub_health_unavailable", { error: String(err) });
  }
}
