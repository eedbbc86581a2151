import { MAX_ADDRESS_LENGTH } from "../limits.ts";

/**
 * Normalises an envelope address for directory lookups: angle brackets and surrounding space
 * removed, lower-cased (local parts are matched case-insensitively, as Exchange and Postfix do),
 * and a trailing dot on the domain dropped. Returns null when it is not a usable address.
 *
 * @example
 * normaliseAddress("<Alice@Example.COM.>") // "alice@example.com"
 */
export function normaliseAddress(input: string): string | null {
  let address = input.trim();
  if (address.startsWith("<") && address.endsWith(">")) address = address.slice(1, -1).trim();
  if (address.length === 0 || address.length > MAX_ADDRESS_LENGTH) return null;
  // Control characters and white space never belong in an envelope address; refusing them here
  // keeps them out of logs, hashes and D1.
  if (/[\s\u0000-\u001f\u007f]/.test(address)) return null;
  const at = address.lastIndexOf("@");
  if (at <= 0 || at === address.length - 1) return null;
  const local = address.slice(0, at);
  const domain = normaliseDomain(address.slice(at + 1));
  if (domain === null) return null;
  return `${local.toLowerCase()}@${domain}`;
}

/** Lower-cases a domain and drops one trailing dot; null when it is not a plausible host name. */
export function normaliseDomain(input: string): string | null {
  let domain = input.trim().toLowerCase();
  if (domain.endsWith(".")) domain = domain.slice(0, -1);
  if (domain.length === 0 || domain.length > 253) return null;
  // Letters, digits, hyphens and dots (IDNs arrive as punycode), or an address literal.
  if (!/^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$/.test(domain) && !/^\[[^\]]+\]$/.test(domain)) {
    return null;
  }
  return domain;
}

/** The domain part of a normalised address. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1);
}

/**
 * The address without its sub-address ("alice+news@example.com" → "alice@example.com"), or null
 * when there is none. Plus-addressing is matched the way Exchange Online and Postfix's
 * `recipient_delimiter = +` do.
 */
export function withoutSubaddress(address: string): string | null {
  const at = address.lastIndexOf("@");
  const plus = address.indexOf("+");
  if (plus <= 0 || plus > at) return null;
  return address.slice(0, plus) + address.slice(at);
}
