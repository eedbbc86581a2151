import { z } from "@hono/zod-openapi";
import { DELIVERY_ID } from "../../../shared/delivery.ts";
import { TRACKING_MAX_AGENTS, TRACKING_MAX_ATTEMPTS, TRACKING_MAX_RECIPIENTS, TRACKING_MAX_TEXT } from "./limits.ts";

/** What an event records: a decision at the SMTP boundary, a delivery round, a spool round, a delivery status notification. */
export const TRACKING_KINDS = ["decision", "delivery", "spool", "dsn"] as const;
export type TrackingKind = (typeof TRACKING_KINDS)[number];

/** The outcomes of decision events, the ones the mail flow chart counts. */
export const DECISION_OUTCOMES = ["accepted", "quarantined", "rejected", "tempfailed", "spooled"] as const;

/** Every outcome an event can carry, by kind (see docs/operations.md "Message tracking"). */
export const TRACKING_OUTCOMES = [
  ...DECISION_OUTCOMES,
  // delivery (a round in the email handler) and spool (a round of the spool consumer)
  "delivered",
  "failed",
  "refused",
  "retry",
  "dead",
  // dsn
  "sent",
  "suppressed",
  "not_sent",
  "error",
] as const;

const text = z.string().max(TRACKING_MAX_TEXT);
const nullableText = text.nullable();

const AgentResult = z
  .object({ agent: z.string().max(64), result: z.enum(["pass", "fail", "skip"]), reason: text, detail: text.optional() })
  .openapi("TrackingAgentResult");

const Attempt = z.object({ hub: z.string().max(128), ok: z.boolean(), ms: z.number().int().nonnegative(), error: text.optional() }).openapi("TrackingAttempt");

/**
 * One event as an edge puts it on the `portcullis-tracking` queue (version 1). The hub checks
 * every message against it: a malformed one is dropped and logged, never stored.
 */
export const TrackingEventWire = z.object({
  v: z.literal(1),
  eventId: z.string().regex(DELIVERY_ID),
  at: z.iso.datetime({ offset: false }),
  edgeId: z.string().min(1).max(128),
  kind: z.enum(TRACKING_KINDS),
  deliveryId: z.string().regex(DELIVERY_ID).nullable(),
  messageId: nullableText,
  sender: z.string().max(512),
  recipients: z.array(z.string().max(512)).max(TRACKING_MAX_RECIPIENTS),
  action: z.string().max(32).nullable(),
  outcome: z.enum(TRACKING_OUTCOMES),
  smtp: nullableText,
  scl: z.number().int().min(-1).max(9).nullable(),
  agents: z.array(AgentResult).max(TRACKING_MAX_AGENTS),
  hubId: z.string().max(128).nullable(),
  attempts: z.array(Attempt).max(TRACKING_MAX_ATTEMPTS),
  round: z.number().int().nonnegative().nullable(),
  size: z.number().int().nonnegative().nullable(),
  detail: nullableText,
  latencyMs: z.number().int().nonnegative().nullable(),
});
export type TrackingEventWire = z.infer<typeof TrackingEventWire>;

/** An event as the hub stores and serves it. */
export const TrackingEvent = TrackingEventWire.omit({ v: true }).openapi("TrackingEvent");
export type TrackingEvent = z.infer<typeof TrackingEvent>;

/**
 * A Message-ID as stored and searched: trimmed, in angle brackets (`<id@host>`), so a search
 * with or without the brackets finds it.
 *
 * @example
 * normalizeMessageId(" id@host ") // "<id@host>"
 */
export function normalizeMessageId(raw: string): string {
  const bare = raw.trim().replace(/^<+/, "").replace(/>+$/, "").trim();
  return `<${bare}>`;
}
