import { domainOf, normaliseAddress } from "../../directory/address.ts";
import { readPolicy } from "../../policy.ts";
import { CONTINUE, reject } from "../../verdict.ts";
import type { Agent } from "../types.ts";

/**
 * Exchange's sender filter: blocked senders and blocked domains (a blocked domain also covers its
 * subdomains), checked against the envelope sender and every From: address, and what to do with
 * the null sender <> (bounces and receipts — accepted by default, since refusing them loses
 * delivery reports). Safe senders are honoured by the content filter.
 */
export const senderFilter: Agent = {
  name: "sender-filter",
  phase: "headers",
  failMode: "closed",
  async check(mail, ctx) {
    const policy = ctx.directory === null ? null : await readPolicy(ctx.directory, "sender-lists");
    if (mail.envelope.from.trim() === "" || mail.envelope.from.trim() === "<>") {
      if (policy?.blankSender === "reject") return reject({ reason: "blank_sender" });
      return { ...CONTINUE, note: "null sender accepted" };
    }
    if (policy === null) return { ...CONTINUE, note: "no sender lists" };
    const senders = new Set<string>();
    const envelope = normaliseAddress(mail.envelope.from);
    if (envelope !== null) senders.add(envelope);
    for (const from of mail.email?.from === undefined ? [] : [mail.email.from]) {
      const a = normaliseAddress(from.address ?? "");
      if (a !== null) senders.add(a);
    }
    const blockedSenders = new Set(policy.blockedSenders.map((s) => normaliseAddress(s)).filter((s): s is string => s !== null));
    const blockedDomains = policy.blockedDomains.map((d) => d.toLowerCase().replace(/\.$/, ""));
    for (const sender of senders) {
      if (blockedSenders.has(sender)) return reject({ reason: "blocked_sender" });
      const domain = domainOf(sender);
      if (blockedDomains.some((d) => domain === d || domain.endsWith(`.${d}`))) return reject({ reason: "blocked_sender" });
    }
    return { ...CONTINUE, note: "not blocked" };
  },
};
