import type { AgentOutcome } from "./hygiene/types.ts";
import type { Tags } from "./tags.ts";

/**
 * The edge → hub hand-over. The delivery id is created once at the edge, before the first
 * attempt, and reused on every retry; the hub stores each delivery id at most once.
 */
export interface Delivery {
  deliveryId: string;
  /** Which edge deployment took the message. */
  edgeId: string;
  envelope: { from: string; to: string[] };
  /** The exact bytes received. */
  raw: Uint8Array;
  /** ISO 8601 time the edge received it. */
  receivedAt: string;
  subject: string | null;
  messageId: string | null;
  verdict: { action: "accept" | "quarantine"; scl: number; agents: AgentOutcome[]; tags?: Partial<Tags> };
}

/**
 * The hub's answer. `duplicate`: this delivery id was already stored and nothing was written
 * again. `refused`: the hand-over itself is invalid (a bug, not an outage) — the edge defers the
 * message and logs it rather than bouncing it.
 */
export type IngestResult = { status: "stored" | "duplicate"; id: number } | { status: "refused"; error: string };

/** A hub's answer to a health probe. */
export interface HubPing {
  status: "ok";
  hubId: string;
}

/** The hub's RPC surface for edges (over a service binding, or {@link httpHubIngest} over signed HTTPS). */
export interface HubIngestApi {
  ingest(delivery: Delivery): Promise<IngestResult>;
  /** The active health probe: answers only when the hub can take mail (its database answers). */
  ping(): Promise<HubPing>;
}

/** Delivery ids are UUIDs; anything else is refused at the hub. */
export const DELIVERY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
