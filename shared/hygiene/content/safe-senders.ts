import { domainOf, normaliseAddress, normaliseDomain } from "../../directory/address.ts";
import type { DirectoryReader } from "../../directory/reader.ts";
import { readPolicy } from "../../policy.ts";
import type { InboundMail } from "../types.ts";

/**
 * Whether an address matches a safe-sender entry: an address (case-insensitive, as the directory
 * normalises it) or "@domain" for every address at exactly that domain. Subdomains do not match:
 * a safe sender skips all content filtering, so it is kept as narrow as it is written.
 *
 * @example
 * senderMatches(["@partner.example"], "ops@partner.example") // true
 * senderMatches(["@partner.example"], "ops@mail.partner.example") // false
 */
export function senderMatches(patterns: readonly string[], address: string): boolean {
  const domain = domainOf(address);
  return patterns.some((pattern) => (pattern.startsWith("@") ? normaliseDomain(pattern.slice(1)) === domain : normaliseAddress(pattern) === address));
}

/**
 * The senders of a message that a safe-sender list may vouch for: the envelope sender unless SPF
 * failed for it, and the From: address unless DMARC failed for it — a forged safe sender must not
 * switch the filter off.
 */
function vouchable(mail: InboundMail): { address: string; via: string }[] {
  const out: { address: string; via: string }[] = [];
  const envelope = normaliseAddress(mail.envelope.from);
  if (envelope !== null && mail.auth?.spf.result !== "fail") out.push({ address: envelope, via: "envelope sender" });
  const from = mail.email?.from;
  const header = from?.address === undefined ? null : normaliseAddress(from.address);
  if (header !== null && mail.auth?.dmarc.result !== "fail") out.push({ address: header, via: "From:" });
  return out;
}

/**
 * Which sender of the message the `safe-senders` policy lists, and where, or null. Global entries
 * count for everyone; per-recipient entries (keyed at the edge by the recipient's keyed hash) only
 * when every recipient of the message lists the sender — with several recipients, one person's
 * safe sender must not skip filtering for the others.
 */
export async function findSafeSender(mail: InboundMail, directory: DirectoryReader): Promise<string | null> {
  const policy = await readPolicy(directory, "safe-senders");
  if (policy === null) return null;
  const senders = vouchable(mail);
  const global = senders.find((s) => senderMatches(policy.global, s.address));
  if (global !== undefined) return `${global.via} ${global.address} (global list)`;
  if (mail.recipients.length === 0) return null;
  const lists = await Promise.all(mail.recipients.map(async (r) => policy.perRecipient[await directory.addressKey(r)] ?? []));
  const personal = senders.find((s) => lists.every((list) => senderMatches(list, s.address)));
  return personal === undefined ? null : `${personal.via} ${personal.address} (recipient's list)`;
}
