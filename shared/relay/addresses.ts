import { domainOf, normaliseAddress, normaliseDomain } from "../directory/address.ts";
import { MAX_ADDRESS_LENGTH } from "../limits.ts";

/** A mailbox: an address and the display name written with it, if any. */
export interface Mailbox {
  name?: string;
  address: string;
}

/** A dot-atom local part (RFC 5322 §3.4.1); quoted local parts are not taken, nor addresses beyond ASCII (SMTPUTF8). */
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/**
 * The address if it is one the relay sends to or from: `local@domain`, ASCII, a dot-atom local
 * part and a host name (IDNs as punycode); null otherwise.
 *
 * @example
 * checkAddress("App@Example.com") // "App@Example.com"
 * checkAddress("a b@example.com") // null
 */
export function checkAddress(address: string): string | null {
  if (address.length === 0 || address.length > MAX_ADDRESS_LENGTH) return null;
  const at = address.lastIndexOf("@");
  if (at <= 0 || !LOCAL_PART.test(address.slice(0, at))) return null;
  const domain = normaliseDomain(address.slice(at + 1));
  if (domain === null || domain.startsWith("[") || !domain.includes(".")) return null;
  return normaliseAddress(address) === null ? null : address;
}

/**
 * A mailbox written as a string: `app@example.com` or `Reports <app@example.com>` (the name may
 * be quoted). Null when the address is not usable.
 */
export function parseMailbox(text: string): Mailbox | null {
  const trimmed = text.trim();
  const m = /^(.*?)\s*<([^<>]*)>$/s.exec(trimmed);
  let name: string | undefined;
  let address: string;
  if (m === null) address = trimmed;
  else {
    address = m[2]!.trim();
    name = m[1]!.trim();
    if (name.length >= 2 && name.startsWith('"') && name.endsWith('"')) name = name.slice(1, -1).replace(/\\(.)/g, "$1");
    if (name === "") name = undefined;
  }
  const checked = checkAddress(address);
  if (checked === null) return null;
  return name === undefined ? { address: checked } : { name, address: checked };
}

/**
 * Whether an address may appear in From or Sender for a client allowed `patterns`: an address
 * (compared case-insensitively) or "@domain" (that domain exactly, not its subdomains — list
 * "@sub.example.com" separately, so one entry never lets an application send as a whole tree).
 *
 * @example
 * senderAllowed("App@Example.com", ["@example.com"]) // true
 * senderAllowed("app@mail.example.com", ["@example.com"]) // false
 */
export function senderAllowed(address: string, patterns: readonly string[]): boolean {
  const normalised = normaliseAddress(address);
  if (normalised === null) return false;
  const domain = domainOf(normalised);
  for (const pattern of patterns) {
    if (pattern.startsWith("@")) {
      if (normaliseDomain(pattern.slice(1)) === domain) return true;
    } else if (normaliseAddress(pattern) === normalised) return true;
  }
  return false;
}
