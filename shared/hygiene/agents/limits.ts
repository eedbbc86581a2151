import { normaliseAddress } from "../../directory/address.ts";
import { MAX_MESSAGE_BYTES, MAX_RECIPIENTS } from "../../limits.ts";
import { CONTINUE, reject, tempfail } from "../../verdict.ts";
import type { Agent } from "../types.ts";

/**
 * Size, recipient count and envelope address syntax — checked before anything else, on the
 * envelope alone. Header size and MIME nesting are enforced by the parser with limits from
 * shared/limits.ts.
 */
export const limits: Agent = {
  name: "limits",
  phase: "envelope",
  failMode: "closed",
  async check(mail) {
    if (mail.raw.byteLength > MAX_MESSAGE_BYTES) {
      return reject({ reason: "too_large", size: mail.raw.byteLength, max: MAX_MESSAGE_BYTES });
    }
    if (mail.envelope.to.length > MAX_RECIPIENTS) {
      return tempfail({ reason: "too_many_recipients", count: mail.envelope.to.length, max: MAX_RECIPIENTS });
    }
    const recipients: string[] = [];
    for (const to of mail.envelope.to) {
      const address = normaliseAddress(to);
      if (address === null) return reject({ reason: "bad_address", address: to.slice(0, 80) });
      if (!recipients.includes(address)) recipients.push(address);
    }
    // No envelope recipient only happens offline (`portcullis scan` without --to); the edge
    // always has one. Recipient validation is then skipped, not failed.
    mail.recipients = recipients;
    return { ...CONTINUE, note: `${mail.raw.byteLength} bytes, ${recipients.length} recipient(s)` };
  },
};
