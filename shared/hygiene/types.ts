import type { Email } from "postal-mime";
import type { Resolver } from "../dns.ts";
import type { Tags } from "../tags.ts";
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
  /** The connecting server, as far as it is known (see ConnectionInfo). */
  connection: ConnectionInfo;
  /**
   * Spam Confidence Level 0–9 once the content filter has scored the message; -1 when a trusted
   * path (allow list, safe sender) skipped content filtering; null before.
   */
  scl: number | null;
  /** Authentication results, once the authentication agent has run (the content filter reads them). */
  auth: AuthResults | null;
  /** Notes agents leave for later agents, e.g. { "safe-sender": "true" }. */
  notes: Record<string, string>;
}

/**
 * Who connected. Email Routing hides the SMTP session from the worker; the client IP and HELO
 * exist only in the headers Cloudflare stamps on top of the message, and only the top-most block
 * (above the first foreign Received) can be trusted — a sender can forge copies lower down.
 */
export interface ConnectionInfo {
  /** The client IP, or null when no trustworthy Cloudflare stamp is present. */
  ip: string | null;
  helo: string | null;
  /** Cloudflare's own verdicts from its top-most Authentication-Results, when present. */
  cloudflare: { spf?: string; dkim?: string; dmarc?: string; arc?: string } | null;
}

export type AuthVerdict = "pass" | "fail" | "softfail" | "neutral" | "none" | "temperror" | "permerror" | "policy";

/** SPF, DKIM, DMARC and ARC as computed at the edge. */
export interface AuthResults {
  spf: { result: AuthVerdict; domain: string | null };
  dkim: { result: AuthVerdict; domain: string | null; selector: string | null }[];
  dmarc: { result: AuthVerdict; domain: string | null; policy: "none" | "quarantine" | "reject" | null; aligned: { spf: boolean; dkim: boolean } };
  arc: { result: AuthVerdict; instances: number };
}

/** What agents may consult. Agents do no I/O of their own. */
export interface AgentContext {
  /** The synced directory; null when none is loaded (offline scan without a policy). */
  directory: DirectoryReader | null;
  /** DNS, or null offline: SPF/DKIM/DMARC then report `none` and DNS block lists are skipped. */
  dns?: Resolver | null;
  /** Milliseconds since the epoch; injectable so tests and fixed-clock vectors are repeatable. */
  now?: () => number;
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
  /** A short note, or for `fail` the reason code (e.g. "unknown_recipient"). */
  reason: string;
  /** For `fail`: what the agent saw (e.g. "SCL 9: GTUBE in text"). Never shown to the sender. */
  detail?: string;
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
  /** Headers to add to the delivered copy (accept and quarantine only). */
  tags: Tags | null;
}
