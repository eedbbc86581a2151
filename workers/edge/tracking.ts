import type { Delivery } from "../../shared/delivery.ts";
import type { AgentOutcome, PipelineResult } from "../../shared/hygiene/types.ts";
import type { Action } from "../../shared/verdict.ts";
import type { DeliveryAttempt, DeliveryOutcome } from "./deliver.ts";
import { edgeLog } from "../../shared/log.ts";

/**
 * Message tracking at the edge: one event per decision, delivery round, spool round and delivery
 * status notification, sent to the `portcullis-tracking` queue and stored by the hub (like
 * Exchange's message tracking log). Sending happens off the reply path (`ctx.waitUntil`), and a
 * failed send is logged and dropped: tracking never delays, defers or bounces mail.
 */

export type TrackingKind = "decision" | "delivery" | "spool" | "dsn";

/** What became of a message at the SMTP boundary (the mail flow chart counts these). */
export type DecisionOutcome = "accepted" | "quarantined" | "rejected" | "tempfailed" | "spooled";
/** delivery: a round in the email handler; spool: a round of the spool consumer. */
export type RoundOutcome = "delivered" | "failed" | "refused" | "retry" | "dead";
export type DsnOutcome = "sent" | "suppressed" | "not_sent" | "error";

/** A tracking event as it travels on the queue (version 1; the hub checks it against workers/hub/tracking/event.ts). */
export interface TrackingEvent {
  v: 1;
  eventId: string;
  /** ISO 8601, when the edge recorded it. */
  at: string;
  edgeId: string;
  kind: TrackingKind;
  /** null for mail that was never accepted (rejected, deferred before a delivery id existed). */
  deliveryId: string | null;
  messageId: string | null;
  /** Envelope sender; "" for the null sender. */
  sender: string;
  recipients: string[];
  /** decision: the hygiene verdict's action; dsn: the notification's kind (delayed, failed). */
  action: string | null;
  outcome: DecisionOutcome | RoundOutcome | DsnOutcome;
  /** The SMTP reply the sender got (decisions). */
  smtp: string | null;
  scl: number | null;
  agents: AgentOutcome[];
  /** The hub that took the message, or the last one tried. */
  hubId: string | null;
  /** This round's attempts, one per hub tried. */
  attempts: { hub: string; ok: boolean; ms: number; error?: string }[];
  /** 1 for the email handler's round, then one more per spool attempt. */
  round: number | null;
  size: number | null;
  /** An error or reason, for operators (never shown to the sender). */
  detail: string | null;
  /** Milliseconds since the edge received the message. */
  latencyMs: number | null;
}

export type TrackingFacts = Omit<TrackingEvent, "v" | "eventId" | "at" | "edgeId">;

/** Longest free text in an event; the hub refuses longer (its TRACKING_MAX_TEXT), and a queue message is at most 128 KB. */
const MAX_TEXT = 2048;
/** Longest address kept (the hub refuses longer). */
const MAX_ADDRESS = 512;
/** Recipients, agent results and attempts kept per event (the hub refuses more). */
const MAX_RECIPIENTS = 100;
const MAX_AGENTS = 64;
const MAX_ATTEMPTS = 64;
/**
 * Events per sendBatch: a batch may hold 100 messages but at most 256 KB, and an event with every
 * agent's notes can approach 10 KB. One email invocation records two events at most; a spool
 * batch of ten messages, twenty.
 */
const EVENTS_PER_SEND = 20;
/** How much of an unparsed message is searched for its Message-ID (Cloudflare's own headers come first). */
const MESSAGE_ID_SCAN_BYTES = 32 * 1024;

const clip = (text: string, max = MAX_TEXT): string => (text.length > max ? text.slice(0, max) : text);
const clipOrNull = (text: string | null | undefined): string | null => (text === null || text === undefined ? null : clip(text));

function agentsOf(agents: AgentOutcome[]): AgentOutcome[] {
  return agents.slice(0, MAX_AGENTS).map((a) => ({
    agent: clip(a.agent, 64),
    result: a.result,
    reason: clip(a.reason),
    ...(a.detail === undefined ? {} : { detail: clip(a.detail) }),
  }));
}

function attemptsOf(attempts: DeliveryAttempt[]): TrackingEvent["attempts"] {
  return attempts.slice(0, MAX_ATTEMPTS).map((a) => ({
    hub: clip(a.hubId, 128),
    ok: a.ok,
    ms: Math.max(0, Math.round(a.ms)),
    ...(a.error === undefined ? {} : { error: clip(a.error) }),
  }));
}

/** Case-insensitively distinct, in order. */
function distinct(addresses: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const a of addresses) {
    const key = a.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(clip(a, MAX_ADDRESS));
  }
  return out.slice(0, MAX_RECIPIENTS);
}

/**
 * The Message-ID of a message that was not parsed (refused before the parse, or deferred): the
 * first `Message-ID:` header of the header block, unfolded. A cheap scan, not a parse.
 */
export function messageIdOf(raw: Uint8Array): string | null {
  const head = new TextDecoder("latin1").decode(raw.subarray(0, Math.min(raw.byteLength, MESSAGE_ID_SCAN_BYTES)));
  const end = head.search(/\r?\n\r?\n/);
  const m = /^message-id[ \t]*:((?:[^\r\n]|\r?\n[ \t])*)/im.exec(end === -1 ? head : head.slice(0, end));
  if (m === null) return null;
  const value = m[1]!.replace(/\r?\n[ \t]+/g, " ").trim();
  const id = /<[^<>\s]+>/.exec(value)?.[0] ?? value;
  return id === "" ? null : clip(id);
}

const latencyOf = (receivedAt: string): number | null => {
  const ms = Date.now() - Date.parse(receivedAt);
  return Number.isFinite(ms) ? Math.max(0, ms) : null;
};

/**
 * Collects tracking events and sends them in one `sendBatch` on `flush()`, through `waitUntil`
 * when there is one. Neither recording nor flushing ever throws.
 */
export class Tracker {
  readonly #queue: Queue | undefined;
  /** The edge the events come from (EDGE_ID, clipped as the hub accepts it); also the origin of this tracker's log lines. */
  readonly edgeId: string;
  readonly #waitUntil: ((work: Promise<unknown>) => void) | undefined;
  #pending: TrackingEvent[] = [];

  /** `TRACKING` may be absent (an edge deployed without it): then nothing is recorded. */
  constructor(env: { EDGE_ID: string; TRACKING?: Queue }, ctx?: Pick<ExecutionContext, "waitUntil">) {
    this.#queue = env.TRACKING;
    // The hub refuses an event whose edge id is longer than 128 characters.
    this.edgeId = clip(String(env.EDGE_ID), 128);
    this.#waitUntil = ctx ? (work) => ctx.waitUntil(work) : undefined;
  }

  record(facts: TrackingFacts): void {
    if (this.#queue === undefined) return;
    this.#pending.push({ v: 1, eventId: crypto.randomUUID(), at: new Date().toISOString(), edgeId: this.edgeId, ...facts });
  }

  /** Sends what was recorded. A failed send is logged (without addresses) and the events are dropped. */
  flush(): void {
    const events = this.#pending;
    this.#pending = [];
    if (events.length === 0 || this.#queue === undefined) return;
    const sending = sendEvents(this.#queue, events);
    if (this.#waitUntil) this.#waitUntil(sending);
  }

  /** The email handler's delivery round: delivered, failed (every hub tried or the budget spent) or refused. */
  round(delivery: Delivery, result: DeliveryOutcome): void {
    const outcome = result.delivered ? "delivered" : result.refused ? "refused" : "failed";
    safely(this, () => this.record(roundFacts(delivery, "delivery", outcome, 1, result)));
  }

  /** A round of the spool consumer: delivered, retry (backoff) or dead (refused, or expired without an attempt). */
  spool(delivery: Delivery, outcome: "delivered" | "retry" | "dead", round: number | null, result: DeliveryOutcome | null, detail?: string): void {
    safely(this, () => this.record(roundFacts(delivery, "spool", outcome, round, result, detail)));
  }

  /** A delivery status notification to the sender (`kind`: delayed or failed), and whether it went out. */
  dsn(delivery: Delivery, kind: "delayed" | "failed", outcome: DsnOutcome, detail?: string): void {
    safely(this, () =>
      this.record({
        ...aboutDelivery(delivery),
        kind: "dsn",
        action: kind,
        outcome,
        smtp: null,
        scl: null,
        agents: [],
        hubId: null,
        attempts: [],
        round: null,
        detail: clipOrNull(detail),
      }),
    );
  }
}

/** Recording must never disturb mail: a bug here is logged (under the tracker's edge), not thrown. */
export function safely(tracker: Tracker, work: () => void): void {
  try {
    work();
  } catch (err) {
    edgeLog(tracker.edgeId).error("tracking_error", { error: String(err) });
  }
}

function roundFacts(
  delivery: Delivery,
  kind: "delivery" | "spool",
  outcome: RoundOutcome,
  round: number | null,
  result: DeliveryOutcome | null,
  detail?: string,
): TrackingFacts {
  const attempts = result?.attempts ?? [];
  return {
    ...aboutDelivery(delivery),
    kind,
    action: null,
    outcome,
    smtp: null,
    scl: null,
    agents: [],
    hubId: result?.delivered ? result.hubId : (attempts.at(-1)?.hubId ?? null),
    attempts: attemptsOf(attempts),
    round,
    detail: clipOrNull(detail ?? (result !== null && !result.delivered ? result.error : null)),
  };
}

function aboutDelivery(delivery: Delivery): Pick<TrackingEvent, "deliveryId" | "messageId" | "sender" | "recipients" | "size" | "latencyMs"> {
  return {
    deliveryId: delivery.deliveryId,
    messageId: clipOrNull(delivery.messageId),
    sender: clip(delivery.envelope.from, MAX_ADDRESS),
    recipients: distinct(delivery.envelope.to),
    size: delivery.raw.byteLength,
    latencyMs: latencyOf(delivery.receivedAt),
  };
}

async function sendEvents(queue: Queue, events: TrackingEvent[]): Promise<void> {
  try {
    for (let i = 0; i < events.length; i += EVENTS_PER_SEND) {
      await queue.sendBatch(events.slice(i, i + EVENTS_PER_SEND).map((body) => ({ body, contentType: "json" as const })));
    }
  } catch (err) {
    edgeLog(events[0]?.edgeId ?? "").error("tracking_dropped", { events: events.length, error: String(err) });
  }
}

/** What is known about a decision; the event takes each field from the first source that has it. */
export interface DecisionFacts {
  /** The hygiene verdict's action (else the delivery's or the pipeline result's). */
  action?: Action;
  smtp?: string;
  result?: PipelineResult;
  /** The bytes read, to find the Message-ID of a message that was not parsed. */
  raw?: Uint8Array;
  size?: number;
  delivery?: Delivery;
  hubId?: string;
  detail?: string;
}

/** The email handler's tracker: one message, its envelope and arrival time. */
export class MessageTracker extends Tracker {
  readonly #envelope: { from: string; to: string };
  readonly #started: number;

  constructor(
    env: { EDGE_ID: string; TRACKING?: Queue },
    ctx: Pick<ExecutionContext, "waitUntil"> | undefined,
    envelope: { from: string; to: string },
    started: number,
  ) {
    super(env, ctx);
    this.#envelope = envelope;
    this.#started = started;
  }

  /** The decision at the SMTP boundary; sends it together with the round recorded before it. */
  decision(outcome: DecisionOutcome, facts: DecisionFacts): void {
    safely(this, () => {
      const { result, delivery, raw } = facts;
      this.record({
        kind: "decision",
        deliveryId: delivery?.deliveryId ?? null,
        messageId: clipOrNull(delivery?.messageId ?? result?.email?.messageId ?? (raw === undefined ? null : messageIdOf(raw))),
        sender: clip(this.#envelope.from, MAX_ADDRESS),
        // The address as the sender gave it, and the recipient it was accepted as, when that differs.
        recipients: distinct([this.#envelope.to, ...(delivery?.envelope.to ?? [])]),
        action: facts.action ?? delivery?.verdict.action ?? result?.action ?? null,
        outcome,
        smtp: clipOrNull(facts.smtp ?? result?.smtp),
        scl: delivery?.verdict.scl ?? result?.scl ?? null,
        agents: agentsOf(delivery?.verdict.agents ?? result?.agents ?? []),
        hubId: facts.hubId ?? null,
        attempts: [],
        round: null,
        size: delivery?.raw.byteLength ?? raw?.byteLength ?? facts.size ?? null,
        detail: clipOrNull(facts.detail),
        latencyMs: Math.max(0, Date.now() - this.#started),
      });
    });
    this.flush();
  }
}
