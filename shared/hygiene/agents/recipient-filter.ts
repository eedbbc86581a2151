import { domainOf } from "../../directory/address.ts";
import type { RejectReason } from "../../verdict.ts";
import { CONTINUE, reject } from "../../verdict.ts";
import { recipientInfo } from "../recipients.ts";
import type { Agent } from "../types.ts";

/**
 * Accepted domains and known recipients, from the synced directory (recipients are looked up by
 * keyed hash; the edge never holds an address in clear). A domain that is not accepted is a
 * relay attempt (550 5.7.1); an unknown user at an accepted domain is 550 5.1.1; a recipient flagged
 * "reject internet mail" is 550 5.7.1.
 *
 * Closed on failure: if the directory cannot be read the message is deferred (451), never
 * bounced — a sync problem must not turn into lost mail.
 */
export const recipientFilter: Agent = {
  name: "recipient-filter",
  phase: "envelope",
  failMode: "closed",
  async check(mail, ctx) {
    const directory = ctx.directory;
    if (directory === null) return { ...CONTINUE, skipped: true, note: "no directory loaded" };
    if (mail.recipients.length === 0) return { ...CONTINUE, skipped: true, note: "no envelope recipient" };
    const accepted: string[] = [];
    let firstRefusal: RejectReason | null = null;
    for (const address of mail.recipients) {
      const domain = domainOf(address);
      let refusal: RejectReason | null = null;
      if (!(await directory.isAcceptedDomain(domain))) refusal = { reason: "relay_denied", domain };
      else {
        const recipient = await recipientInfo(mail, directory, address);
        if (recipient === null) refusal = { reason: "unknown_recipient" };
        // Internal-only recipients (Exchange's "accept messages only from authenticated senders").
        else if (recipient.rejectInternet) refusal = { reason: "recipient_restricted" };
      }
      if (refusal === null) accepted.push(address);
      else firstRefusal ??= refusal;
    }
    if (accepted.length === 0 && firstRefusal !== null) return reject(firstRefusal);
    const refused = mail.recipients.length - accepted.length;
    mail.recipients = accepted;
    return { ...CONTINUE, note: refused === 0 ? `${accepted.length} known recipient(s)` : `${accepted.length} known, ${refused} refused` };
  },
};
