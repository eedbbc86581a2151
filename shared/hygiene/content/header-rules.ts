import type { Address, Mailbox } from "postal-mime";
import type { ContentRule } from "./rule.ts";
import { registrableDomain } from "./urls.ts";

/** How far ahead of the receiving clock a Date: may be before it counts as forged (clock skew and time zones fit well inside). */
const FUTURE_DATE_SLACK_MS = 24 * 60 * 60 * 1000;
/** Letters a subject needs before "all capitals" means shouting rather than an acronym. */
const CAPS_MIN_LETTERS = 10;
/** Share of upper-case letters from which a subject is all capitals. */
const CAPS_RATIO = 0.9;

function mailboxes(address: Address | undefined): Mailbox[] {
  if (address === undefined) return [];
  return address.group === undefined ? [address] : address.group;
}

function domainOfAddress(address: string): string | null {
  const at = address.lastIndexOf("@");
  if (at === -1) return null;
  const domain = address.slice(at + 1).toLowerCase();
  return domain.endsWith(".") ? domain.slice(0, -1) : domain;
}

/** An address in a display name: "service@paypal.example" <x@elsewhere.example>. */
const NAME_ADDRESS = /[^\s<>()"',;:@]{1,64}@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})\b/gi;
/** Characters of a display name read: real names are short, and the patterns stay cheap on a crafted one. */
const MAX_NAME_CHARS = 256;
/**
 * A bare domain in a display name ("PayPal.com"). The top-level label must be lower case and a
 * common one, so initials such as "Craig R.Hughes" or "D.McMann" are not taken for domains.
 */
const NAME_DOMAIN =
  /(?:^|[\s<("'])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:com|net|org|info|biz|edu|gov|io|co|us|uk|de|fr|ru|cn|jp|br|in|it|nl|au|ca))(?=$|[\s>)"',;:/])/gi;

/** Domains a From: display name shows, from addresses and bare domains in it. */
function shownDomains(fullName: string): string[] {
  const name = fullName.slice(0, MAX_NAME_CHARS);
  const out: string[] = [];
  // Both patterns need an "@" or a dot; most names have neither.
  if (!name.includes("@") && !name.includes(".")) return out;
  for (const m of name.matchAll(NAME_ADDRESS)) out.push(m[1]!.toLowerCase());
  for (const m of name.replace(NAME_ADDRESS, " ").matchAll(NAME_DOMAIN)) {
    const tld = m[1]!.slice(m[1]!.lastIndexOf(".") + 1);
    if (tld === tld.toLowerCase()) out.push(m[1]!.toLowerCase());
  }
  return out;
}

/** Comma-separated parts of a header value that hold an "@" (as split(",") then filter). */
function addressesIn(value: string): number {
  let count = 0;
  let start = 0;
  for (;;) {
    const comma = value.indexOf(",", start);
    const end = comma === -1 ? value.length : comma;
    const at = value.indexOf("@", start);
    if (at !== -1 && at < end) count++;
    if (comma === -1) return count;
    start = comma + 1;
  }
}

/** Upper- and lower-case letters in a text (\p{Lu} and \p{Ll}); counted by hand when it is ASCII. */
function letterCases(text: string): { upper: number; lower: number } {
  let upper = 0;
  let lower = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return { upper: text.match(/\p{Lu}/gu)?.length ?? 0, lower: text.match(/\p{Ll}/gu)?.length ?? 0 };
    if (c >= 0x41 && c <= 0x5a) upper++;
    else if (c >= 0x61 && c <= 0x7a) lower++;
  }
  return { upper, lower };
}

/** Rules over the top-level headers. */
export const HEADER_RULES: readonly ContentRule[] = [
  {
    name: "FROM_MISSING",
    score: 1,
    description: "No From: header. Every RFC 5322 message has one; mass mailers sometimes leave it out.",
    test: ({ view }) => (view.headers.has("from") ? null : "no From:"),
  },
  {
    name: "FROM_MULTIPLE",
    score: 2,
    description:
      "More than one From: header, or several From: addresses without a Sender: (RFC 5322 §3.6.2). Readers show one of them and filters may check another — a phishing trick.",
    test: ({ view }) => {
      // Keys are trimmed of spaces and tabs only; trim() also counts a "from" behind other white space.
      let fromHeaders = 0;
      for (const h of view.email.headers) if (h.key === "from" || (h.key.length > 4 && h.key.trim() === "from")) fromHeaders++;
      if (fromHeaders > 1) return `${fromHeaders} From: headers`;
      const addresses = addressesIn(view.headers.get("from")?.[0] ?? "");
      if (addresses > 1 && !view.headers.has("sender")) return `${addresses} From: addresses, no Sender:`;
      return null;
    },
  },
  {
    name: "FROM_NAME_SPOOF",
    score: 2,
    description:
      'The From: display name shows an address or domain other than the actual sender\'s ("security@bank.example" <x@elsewhere.example>): the reader sees the name, not the address.',
    test: ({ view }) => {
      const from = mailboxes(view.email.from)[0];
      if (from === undefined || from.name.trim() === "") return null;
      const actual = domainOfAddress(from.address);
      if (actual === null) return null;
      const shown = shownDomains(from.name).find((d) => registrableDomain(d) !== registrableDomain(actual));
      if (shown !== undefined) return `name shows ${shown}, sent from ${actual}`;
      return null;
    },
  },
  {
    name: "DATE_MISSING",
    score: 0.5,
    description: "No Date: header (required by RFC 5322; real clients always set it).",
    test: ({ view }) => (view.headers.has("date") ? null : "no Date:"),
  },
  {
    name: "DATE_IN_FUTURE",
    score: 1.5,
    description: "The Date: is more than a day ahead of the time the edge received the message: set forward to sort on top of an inbox.",
    test: ({ view, now }) => {
      const value = view.headers.get("date")?.[0];
      if (value === undefined) return null;
      const date = Date.parse(value);
      if (Number.isNaN(date) || date <= now + FUTURE_DATE_SLACK_MS) return null;
      return `Date: ${Math.round((date - now) / 3_600_000)} h ahead`;
    },
  },
  {
    name: "MESSAGE_ID_MISSING",
    score: 0.5,
    description: "No Message-ID: header. Clients and servers add one; bulk senders that write their own headers often do not.",
    test: ({ view }) => (view.headers.has("message-id") ? null : "no Message-ID:"),
  },
  {
    name: "SUBJECT_ALL_CAPS",
    score: 1,
    description: `A subject of at least ${CAPS_MIN_LETTERS} letters, ${CAPS_RATIO * 100}% or more of them capitals ("MAKE MONEY FAST").`,
    test: ({ view }) => {
      const { upper, lower } = letterCases(view.email.subject ?? "");
      if (upper + lower < CAPS_MIN_LETTERS || upper / (upper + lower) < CAPS_RATIO) return null;
      return "subject in capitals";
    },
  },
];
