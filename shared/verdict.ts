/**
 * Decisions are values. An agent returns a {@link Verdict}; only the edge's SMTP boundary turns a
 * verdict into `setReject` (permanent) or a thrown error (temporary).
 */

/** Why a message is refused, deferred or quarantined, with the data that explains it. */
export type RejectReason =
  | { reason: "too_large"; size: number; max: number }
  | { reason: "headers_too_large"; max: number }
  | { reason: "too_many_headers"; count: number; max: number }
  | { reason: "nesting_too_deep"; max: number }
  | { reason: "too_many_parts"; count: number; max: number }
  | { reason: "malformed"; detail: string }
  | { reason: "too_many_recipients"; count: number; max: number }
  | { reason: "bad_address"; address: string }
  | { reason: "unknown_recipient" }
  | { reason: "relay_denied"; domain: string }
  | { reason: "recipient_restricted" }
  | { reason: "blocked_ip"; list: string }
  | { reason: "blocked_sender" }
  | { reason: "blank_sender" }
  | { reason: "dmarc_policy"; domain: string; policy: "reject" | "quarantine" }
  | { reason: "spam"; scl: number }
  | { reason: "blocked_attachment"; detail: string }
  | { reason: "malware"; name: string }
  | { reason: "directory_unavailable"; detail: string }
  | { reason: "hub_unavailable"; detail: string }
  | { reason: "agent_failed"; agent: string; detail: string };

export type RejectCode = RejectReason["reason"];

/** An agent's answer, after Haraka's CONT / OK / DENY / DENYSOFT. */
export type Verdict =
  | { action: "continue" }
  | { action: "accept" }
  | { action: "reject"; reason: RejectReason }
  | { action: "tempfail"; reason: RejectReason }
  | { action: "quarantine"; reason: RejectReason };

/** The final action of a pipeline run. */
export type Action = "accept" | "reject" | "quarantine" | "tempfail";

export const CONTINUE: Verdict = { action: "continue" };
export const ACCEPT: Verdict = { action: "accept" };

export function reject(reason: RejectReason): Verdict {
  return { action: "reject", reason };
}

export function tempfail(reason: RejectReason): Verdict {
  return { action: "tempfail", reason };
}
