import type { Policies } from "../policy.ts";
import type { BreakerState } from "./breaker.ts";

export type HubConfig = Policies["hubs"][number];

/** With no `hubs` policy an edge delivers to the hub behind its HUB service binding. */
export const DEFAULT_HUBS: HubConfig[] = [{ id: "hub", transport: "binding", binding: "HUB", priority: 0, weight: 1, maxConcurrency: 1000 }];

/** …and, when the edge has a HUB_STANDBY binding, to the standby hub when HUB cannot take the message. */
export const DEFAULT_STANDBY_HUB: HubConfig = { id: "hub-standby", transport: "binding", binding: "HUB_STANDBY", priority: 1, weight: 1, maxConcurrency: 1000 };

/**
 * The hubs an edge delivers to: the `hubs` policy when it lists any, otherwise the default list —
 * HUB, then the standby behind HUB_STANDBY when `standby` says the edge has that binding.
 *
 * @example
 * hubsFrom(null, { standby: true }).map((h) => h.binding) // ["HUB", "HUB_STANDBY"]
 */
export function hubsFrom(policy: Policies["hubs"] | null, options: { standby?: boolean } = {}): HubConfig[] {
  if (policy !== null && policy.length > 0) return policy;
  return options.standby === true ? [...DEFAULT_HUBS, DEFAULT_STANDBY_HUB] : DEFAULT_HUBS;
}

/** Why a hub sits where it does in the order (reported with each attempt). */
export type HubStanding = "healthy" | "half-open" | "busy" | "down";

export interface PlannedHub {
  hub: HubConfig;
  standing: HubStanding;
}

/**
 * Smooth weighted round-robin (as in nginx): each pick adds every candidate's weight to its
 * running score, takes the highest, and subtracts the group's total from the winner. Over any
 * window the picks follow the weights, and no hub gets a burst of consecutive picks.
 */
export class WeightedRoundRobin {
  readonly #scores = new Map<string, number>();

  /** The candidates in the order to try them: the round-robin pick first, then the rest by weight. */
  order(group: HubConfig[]): HubConfig[] {
    if (group.length <= 1) return group;
    let total = 0;
    let best: HubConfig | undefined;
    let bestScore = -Infinity;
    for (const hub of group) {
      const score = (this.#scores.get(hub.id) ?? 0) + hub.weight;
      this.#scores.set(hub.id, score);
      total += hub.weight;
      if (score > bestScore) {
        best = hub;
        bestScore = score;
      }
    }
    this.#scores.set(best!.id, bestScore - total);
    const rest = group.filter((h) => h !== best).sort((a, b) => b.weight - a.weight || a.id.localeCompare(b.id));
    return [best!, ...rest];
  }
}

/**
 * The order in which to offer one message to the hubs, like MX preference: the lowest priority
 * number first, weighted round-robin inside a priority group. Hubs whose breaker is closed come
 * first, then half-open ones (one attempt is their probe), then hubs at their concurrency cap,
 * then hubs marked down — every hub is still tried before the message is spooled, so a stale
 * "down" mark can never be what loses the chance to deliver.
 */
export function planAttempts(
  hubs: HubConfig[],
  state: (hubId: string) => BreakerState,
  busy: (hub: HubConfig) => boolean,
  rr: WeightedRoundRobin,
): PlannedHub[] {
  const priorities = [...new Set(hubs.map((h) => h.priority))].sort((a, b) => a - b);
  const ordered = priorities.flatMap((p) => rr.order(hubs.filter((h) => h.priority === p)));
  const standing = (hub: HubConfig): HubStanding => {
    const s = state(hub.id);
    if (s === "open") return "down";
    if (busy(hub)) return "busy";
    return s === "half-open" ? "half-open" : "healthy";
  };
  const rank: Record<HubStanding, number> = { healthy: 0, "half-open": 1, busy: 2, down: 3 };
  const planned = ordered.map((hub, index) => ({ hub, standing: standing(hub), index }));
  planned.sort((a, b) => rank[a.standing] - rank[b.standing] || a.index - b.index);
  return planned.map(({ hub, standing }) => ({ hub, standing }));
}
