import type { RejectReason } from "./verdict.ts";

/** An SMTP reply: basic code, enhanced status code (RFC 3463) and public text. */
export interface SmtpReply {
  code: number;
  enhanced: string;
  text: string;
}

/**
 * The one mapping from a reason to what the sending MTA sees. Public text never says which
 * rule fired or what the directory holds. Adding a reason without a case here fails the build.
 *
 * @example
 * formatReply(smtpReply({ reason: "unknown_recipient" })) // "550 5.1.1 Recipient address rejected: user unknown"
 */
export function smtpReply(r: RejectReason): SmtpReply {
  switch (r.reason) {
    case "too_large":
      return { code: 552, enhanced: "5.3.4", text: "Message size exceeds fixed limit" };
    case "headers_too_large":
    case "too_many_headers":
      return { code: 552, enhanced: "5.3.4", text: "Message header size exceeds limit" };
    case "nesting_too_deep":
    case "too_many_parts":
      return { code: 554, enhanced: "5.6.0", text: "Message structure exceeds limit" };
    case "malformed":
      return { code: 554, enhanced: "5.6.0", text: "Message could not be parsed" };
    case "blocked_ip":
      return { code: 550, enhanced: "5.7.1", text: "Client host rejected" };
    case "blocked_sender":
    case "blank_sender":
      return { code: 550, enhanced: "5.7.1", text: "Sender rejected" };
    case "dmarc_policy":
      return { code: 550, enhanced: "5.7.1", text: "Message rejected: sender authentication failed" };
    case "spam":
    case "blocked_attachment":
      return { code: 550, enhanced: "5.7.1", text: "Message rejected by policy" };
    case "malware":
      return { code: 554, enhanced: "5.7.1", text: "Message rejected: content not accepted" };
    case "too_many_recipients":
      return { code: 452, enhanced: "4.5.3", text: "Too many recipients" };
    case "bad_address":
      return { code: 553, enhanced: "5.1.3", text: "Bad address syntax" };
    case "unknown_recipient":
      return { code: 550, enhanced: "5.1.1", text: "Recipient address rejected: user unknown" };
    case "relay_denied":
      return { code: 550, enhanced: "5.7.1", text: "Relaying denied" };
    case "recipient_restricted":
      return { code: 550, enhanced: "5.7.1", text: "Recipient does not accept this message" };
    case "directory_unavailable":
      return { code: 451, enhanced: "4.3.0", text: "Temporary local problem, try again later" };
    case "hub_unavailable":
      return { code: 451, enhanced: "4.4.1", text: "Upstream temporarily unavailable, try again later" };
    case "agent_failed":
      return { code: 451, enhanced: "4.3.0", text: "Temporary local problem, try again later" };
    default:
      return assertNever(r);
  }
}

/** `550 5.1.1 Recipient address rejected: user unknown` */
export function formatReply(reply: SmtpReply): string {
  return `${reply.code} ${reply.enhanced} ${reply.text}`;
}

/** The accepted reply, for reports that show one line per message. */
export const ACCEPTED_REPLY: SmtpReply = { code: 250, enhanced: "2.0.0", text: "OK" };

function assertNever(value: never): never {
  throw new Error(`unmapped reject reason: ${JSON.stringify(value)}`);
}
