import type { Delivery, IngestResult } from "../../shared/delivery.ts";
import type { HubOutcome } from "../../shared/delivery/health.ts";
import { planAttempts, WeightedRoundRobin, type HubConfig, type HubStanding } from "../../shared/delivery/router.ts";
import type { DeliverySettings } from "../../shared/delivery/settings.ts";
import { edgeLog } from "../../shared/log.ts";
import { withTimeout } from "../../shared/timeout.ts";
import { enter, hubClient, hubStates, isBusy, leave, noteOutcomes, reportOutcomes } from "./hubs.ts";

/** One try at one hub, as tracking and the spool record it. */
export interface DeliveryAttempt {
  hubId: string;
  standing: HubStanding;
  ok: boolean;
  ms: number;
  status?: "stored" | "duplicate" | "forwarded";
  error?: string;
}

export type DeliveryOutcome =
  | { delivered: true; hubId: string; status: "stored" | "duplicate" | "forwarded"; attempts: DeliveryAttempt[] }
  | { delivered: false; refused: boolean; error: string; attempts: DeliveryAttempt[] };

export interface DeliverOptions {
  hubs: HubConfig[];
  settings: DeliverySettings;
  /** Sends the message on to a verified address (transport "forward"); absent where forwarding is impossible. */
  forward?: (address: string, delivery: Delivery) => Promise<void>;
  /** Outcomes are reported to the health object through it, off the reply path. */
  waitUntil?: (work: Promise<unknown>) => void;
  /** Signed HTTPS transport's fetch (tests inject one). */
  fetcher?: typeof fetch;
  now?: () => number;
  /** Which delivery round this is, for the log: 1 in the email handler, then one more per spool attempt. */
  round?: number;
}

/** Per isolate: the weighted round-robin position inside each priority group. */
const rr = new WeightedRoundRobin();

/**
 * Offers one delivery to the hubs in health/priority/weight order until one takes it, within the
 * settings' per-attempt timeout and total budget. The delivery id never changes between attempts,
 * so a hub that took the message but answered too late sees the next attempt (here, or from the
 * spool) as a duplicate and stores nothing twice.
 *
 * Never throws for a hub failure: the caller spools an undelivered message. A hub that *refuses*
 * the hand-over (invalid payload) ends the round — every hub would refuse the same bytes.
 */
export async function deliverToHubs(env: Env, delivery: Delivery, options: DeliverOptions): Promise<DeliveryOutcome> {
  const now = options.now ?? Date.now;
  const { settings } = options;
  const started = now();
  const states = await hubStates(env, settings, started);
  const plan = planAttempts(options.hubs, states, isBusy, rr);
  const attempts: DeliveryAttempt[] = [];
  const log = edgeLog(env.EDGE_ID, delivery);
  // One log line per try of a hub, as it ends.
  const tried = (a: DeliveryAttempt): void => {
    attempts.push(a);
    const outcome = a.ok ? "delivered" : a.error?.startsWith("refused: ") ? "refused" : "failed";
    log[a.ok ? "info" : "warn"]("delivery_attempt", {
      hub: a.hubId,
      standing: a.standing,
      outcome,
      status: a.status,
      ms: a.ms,
      attempt: attempts.length,
      round: options.round ?? 1,
      error: a.error,
    });
  };
  const outcomes: HubOutcome[] = [];
  let result: DeliveryOutcome | undefined;
  for (const { hub, standing } of plan) {
    const remaining = settings.budgetMs - (now() - started);
    if (remaining <= 0) break;
    const t0 = now();
    enter(hub.id);
    try {
      const status = await withTimeout(
        attempt(env, hub, delivery, options),
        Math.min(settings.attemptTimeoutMs, remaining),
        `hub ${hub.id} did not take the message`,
      );
      if (status.status === "refused") {
        tried({ hubId: hub.id, standing, ok: false, ms: now() - t0, error: `refused: ${status.error}` });
        result = { delivered: false, refused: true, error: `hub ${hub.id} refused the hand-over: ${status.error}`, attempts };
        break;
      }
      tried({ hubId: hub.id, standing, ok: true, ms: now() - t0, status: status.status });
      outcomes.push({ hubId: hub.id, ok: true, at: now(), ms: now() - t0, kind: "delivery" });
      result = { delivered: true, hubId: hub.id, status: status.status, attempts };
      break;
    } catch (err) {
      const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      tried({ hubId: hub.id, standing, ok: false, ms: now() - t0, error });
      outcomes.push({ hubId: hub.id, ok: false, at: now(), ms: now() - t0, kind: "delivery", error });
    } finally {
      leave(hub.id);
    }
  }
  const report = reportOutcomes(env, noteOutcomes(outcomes, settings), settings);
  if (options.waitUntil) options.waitUntil(report);
  else await report;
  if (result) return result;
  const last = attempts.at(-1)?.error ?? "no hub configured";
  const error =
    attempts.length < plan.length ? `delivery budget of ${settings.budgetMs} ms spent; last error: ${last}` : `no hub took the message; last error: ${last}`;
  return { delivered: false, refused: false, error, attempts };
}

type AttemptStatus = IngestResult | { status: "forwarded" };

async function attempt(env: Env, hub: HubConfig, delivery: Delivery, options: DeliverOptions): Promise<AttemptStatus> {
  if (hub.transport === "forward") {
    if (options.forward === undefined) throw new Error(`hub ${hub.id}: forwarding is not possible here`);
    if (hub.address === undefined) throw new Error(`hub ${hub.id}: transport forward needs an address`);
    await options.forward(hub.address, delivery);
    return { status: "forwarded" };
  }
  return hubClient(env, hub, options.fetcher).ingest(delivery);
}
