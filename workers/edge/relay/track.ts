import type { AgentOutcome } from "../../../shared/hygiene/types.ts";
import { ACCEPTED_STATUSES, type RecipientResult } from "../../../shared/relay/api.ts";
import { type DecisionOutcome, safely, type Tracker } from "../tracking.ts";
import type { ExternalOutcome, InternalOutcome } from "./route.ts";

/**
 * Message tracking for relayed mail, as for inbound mail (workers/edge/tracking.ts): a decision
 * event for the submission, the hubs' delivery round for internal recipients, and a delivery
 * event for the send connector (its name as the hub). Recording never throws; the events are sent
 * off the reply path.
 */

/** Longest free text in an event (the hub refuses longer). */
const MAX_TEXT = 2048;
const clip = (text: string | null): string | null => (text === null ? null : text.slice(0, MAX_TEXT));

export interface RelayFacts {
  clientId: string;
  deliveryId: string | null;
  messageId: string | null;
  sender: string;
  recipients: string[];
  agents: AgentOutcome[];
  size: number;
  started: number;
}

/** The decision a set of recipient outcomes amounts to, in the mail flow's terms. */
export function decisionOf(results: RecipientResult[], spooled: boolean): DecisionOutcome {
  if (results.some((r) => ACCEPTED_STATUSES.has(r.status))) return spooled ? "spooled" : "accepted";
  return results.some((r) => r.status === "deferred") ? "tempfailed" : "rejected";
}

function decision(tracker: Tracker, facts: RelayFacts, outcome: DecisionOutcome, smtp: string | null, hubId: string | null, detail: string | null): void {
  tracker.record({
    kind: "decision",
    deliveryId: facts.deliveryId,
    messageId: clip(facts.messageId),
    sender: facts.sender,
    recipients: facts.recipients.slice(0, 100),
    action: outcome === "rejected" ? "reject" : outcome === "tempfailed" ? "tempfail" : "accept",
    outcome,
    smtp: clip(smtp),
    scl: 0,
    agents: facts.agents.slice(0, 64),
    hubId,
    attempts: [],
    round: null,
    size: facts.size,
    detail: clip(`relay client ${facts.clientId}${detail === null ? "" : `: ${detail}`}`),
    latencyMs: Math.max(0, Date.now() - facts.started),
  });
}

/** A submission refused after it was read (malware, a blocked attachment, a malformed message). */
export function trackRefused(tracker: Tracker, facts: RelayFacts, smtp: string, detail: string): void {
  safely(tracker, () => decision(tracker, facts, "rejected", smtp, null, detail));
  tracker.flush();
}

/** A routed submission: the decision, the hubs' round and the connector's. */
export function trackRouted(
  tracker: Tracker,
  facts: RelayFacts,
  results: RecipientResult[],
  internal: InternalOutcome | null,
  external: ExternalOutcome | null,
): void {
  safely(tracker, () => {
    const outcome = decisionOf(results, internal?.spooled ?? false);
    const hubId = internal?.outcome?.delivered ? internal.outcome.hubId : null;
    decision(tracker, facts, outcome, outcome === "accepted" || outcome === "spooled" ? "250 2.0.0 OK" : null, hubId, null);
    if (internal?.outcome) tracker.round(internal.delivery, internal.outcome);
    if (external !== null && external.outcomes.length > 0) {
      const failures = external.outcomes.filter((o) => !o.ok);
      const firstError = failures.map((o) => ("error" in o ? o.error : "")).find((e) => e !== "") ?? null;
      tracker.record({
        kind: "delivery",
        deliveryId: facts.deliveryId,
        messageId: clip(facts.messageId),
        sender: facts.sender,
        recipients: external.outcomes.map((o) => o.address).slice(0, 100),
        action: null,
        outcome: failures.length === 0 ? "delivered" : "failed",
        smtp: null,
        scl: null,
        agents: [],
        hubId: external.connector,
        attempts: [
          {
            hub: external.connector,
            ok: failures.length === 0,
            ms: Math.max(0, Math.round(external.ms)),
            ...(firstError === null ? {} : { error: clip(firstError)! }),
          },
        ],
        round: 1,
        size: facts.size,
        detail: clip(failures.length === 0 ? null : `${failures.length} of ${external.outcomes.length} recipient(s) not sent: ${firstError ?? "unknown"}`),
        latencyMs: Math.max(0, Date.now() - facts.started),
      });
    }
  });
  tracker.flush();
}
