import type { Email } from "postal-mime";
import type { DirectoryReader } from "../directory/reader.ts";
import type { Action, RejectReason, Verdict } from "../verdict.ts";

/** The SMTP envelope: what the sending server said in MAIL FROM and RCPT TO. */
export interface Envelope {
  /** Envelope sender; "" for a null sender (bounces). */
  from: string;
  to: string[];
}

/** One message as every agent sees it. */
export interface InboundMail {
  envelope: Envelope;
  /** The exact bytes received, read once. */
  raw: Uint8Array;
  /** Envelope recipients, normalised; set by the limits agent, narrowed by the recipient filter. */
  recipients: string[];
  /** The parsed message; null in the envelope phase (before parsing). */
  email: Email | null;
}

/** What agents may consult. Agents do no I/O of their own. */
export interface AgentContext {
  /** The synced directory; null when none is loaded (offline scan without a policy). */
  directory: DirectoryReader | null;
}

export type Phase = "envelope" | "headers" | "body";

/**
 * One message-hygiene check. `envelope` agents run before the message is parsed, so an unknown
 * recipient costs no parse; `headers` and `body` agents see the parsed message.
 */
export interface Agent {
  name: string;
  phase: Phase;
  /** What an exception or time-out in this agent means: `open` carries on, `closed` defers the message. */
  failMode: "open" | "closed";
  check(mail: InboundMail, ctx: AgentContext): Promise<AgentVerdict>;
}

/** A verdict plus the short note recorded for tracking. */
export type AgentVerdict = Verdict & { note?: string; skipped?: boolean };

/** The record each agent leaves, for logs, tracking and `portcullis scan`. */
export interface AgentOutcome {
  agent: string;
  result: "pass" | "fail" | "skip";
  reason: string;
}

export interface PipelineResult {
  action: Action;
  /** Spam Confidence Level 0–9; 0 unless a content agent raised it. */
  scl: number;
  /** The SMTP reply the sender gets, e.g. "550 5.1.1 …" or "250 2.0.0 OK". */
  smtp: string;
  reason: RejectReason | null;
  agents: AgentOutcome[];
  /** Recipients the message is accepted for. */
  recipients: string[];
  email: Email | null;
}
