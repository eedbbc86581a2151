import type { BreakerRecord, BreakerState } from "./breaker.ts";

/** One delivery attempt or probe at one hub, as the health record keeps it. */
export interface HubOutcome {
  hubId: string;
  ok: boolean;
  /** Epoch ms. */
  at: number;
  ms: number;
  kind: "delivery" | "probe";
  error?: string;
}

/** What an edge knows about one hub: its breaker and its last outcomes, newest first. */
export interface HubHealth extends BreakerRecord {
  hubId: string;
  state: BreakerState;
  lastOkAt: number | null;
  lastFailureAt: number | null;
  recent: HubOutcome[];
}

/** Every hub an edge has an opinion about, as `GET /api/v1/hubs` reports it per edge. */
export interface HubHealthReport {
  edgeId: string;
  at: number;
  hubs: HubHealth[];
}
