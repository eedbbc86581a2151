import type { HubHealthReport } from "./health.ts";

/**
 * The spool as operators see it (the queue viewer). `queued`: waiting for its next attempt;
 * `suspended`: held by an operator; `dead`: expired or refused, kept in the dead-letter store;
 * `deleted`: removed by an operator (a tombstone with the reason, for the audit trail).
 */
export type SpoolState = "queued" | "suspended" | "dead" | "deleted";
export const SPOOL_STATES: readonly SpoolState[] = ["queued", "suspended", "dead", "deleted"];

export interface SpoolItem {
  deliveryId: string;
  edgeId: string;
  state: SpoolState;
  envelope: { from: string; to: string[] };
  messageId: string | null;
  subject: string | null;
  size: number;
  receivedAt: string;
  spooledAt: string;
  expiresAt: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  lastHub: string | null;
  delayNotifiedAt: string | null;
  /** Why it is dead or deleted. */
  reason: string | null;
  endedAt: string | null;
}

export interface SpoolPage {
  items: SpoolItem[];
  nextCursor: string | null;
  counts: Record<SpoolState, number>;
  oldestQueuedAt: string | null;
}

export type SpoolActionResult = { ok: true; item: SpoolItem } | { ok: false; error: "not_found" | "conflict" | "invalid"; message: string };

/** What a hub calls on an edge to show and steer its spool, and to read its view of hub health. */
export interface EdgeSpoolApi {
  spoolList(query: { state?: SpoolState; cursor?: string; limit?: number }): Promise<SpoolPage>;
  spoolGet(deliveryId: string): Promise<SpoolItem | null>;
  /** Queues an attempt now (a dead item is brought back with a fresh expiry). */
  spoolRetry(deliveryId: string): Promise<SpoolActionResult>;
  spoolSuspend(deliveryId: string): Promise<SpoolActionResult>;
  spoolResume(deliveryId: string): Promise<SpoolActionResult>;
  /** Removes the message for good; the reason is kept with a tombstone. */
  spoolDelete(deliveryId: string, reason: string): Promise<SpoolActionResult>;
  hubHealth(): Promise<HubHealthReport>;
}
