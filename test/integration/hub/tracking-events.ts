import type { TrackingEventWire } from "../../../workers/hub/tracking/event.ts";

/** A tracking event as an edge sends it: an accepted message for alice, unless told otherwise. */
export function wireEvent(overrides: Partial<TrackingEventWire> = {}): TrackingEventWire {
  return {
    v: 1,
    eventId: crypto.randomUUID(),
    at: new Date().toISOString(),
    edgeId: "edge-test",
    kind: "decision",
    deliveryId: crypto.randomUUID(),
    messageId: `<${crypto.randomUUID()}@example.net>`,
    sender: "sender@example.net",
    recipients: ["alice@example.com"],
    action: "accept",
    outcome: "accepted",
    smtp: "250 2.0.0 OK",
    scl: 1,
    agents: [{ agent: "recipient-filter", result: "pass", reason: "known" }],
    hubId: "hub-local",
    attempts: [],
    round: null,
    size: 1234,
    detail: null,
    latencyMs: 12,
    ...overrides,
  };
}
