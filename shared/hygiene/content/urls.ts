/** What the content filter knows about one URL in a message. */
export interface UrlInfo {
  /** Lower-case scheme without the colon: "http", "https", "ftp", "mailto", … */
  scheme: string;
  /** Lower-case host without a trailing dot, as the WHATWG URL parser normalises it ("" if none). */
  host: string;
  /** The registrable part of the host (see {@link registrableDomain}), or the IP. */
  domain: string;
  /** The host is an IP literal (the parser also turns decimal, octal and hex forms into dotted IPv4). */
  ip: boolean;
  /** The URL carries user information before the host ("http://user@host/"), a classic disguise. */
  userinfo: boolean;
  /** Lower-case path and query, for word tokens. */
  path: string;
}

/** Most URLs read from one message; a message with more gains nothing from the rest. */
export const MAX_URLS_PER_MESSAGE = 200;

/** Second-level labels under which names are registered in many country domains (example.co.uk). */
const SECOND_LEVEL = new Set(["co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "mil", "nic", "ltd", "plc", "sch"]);

/**
 * The part of a host a registrant controls: the last two labels, or three under a country
 * domain's usual second level ("www.bank.co.uk" → "bank.co.uk"). An approximation of the Public
 * Suffix List, which is too big to ship to every isolate for a scoring heuristic.
 *
 * @example
 * registrableDomain("login.secure.example.com") // "example.com"
 */
export function registrableDomain(host: string): string {
  // Without empty labels (no dot at either end, none doubled), the last dots say it all.
  if (host.charCodeAt(0) !== 0x2e && host.charCodeAt(host.length - 1) !== 0x2e && !host.includes("..")) {
    const last = host.lastIndexOf(".");
    const before = last <= 0 ? -1 : host.lastIndexOf(".", last - 1);
    if (before === -1) return host;
    if (last - before - 1 > 0 && host.length - last - 1 === 2 && SECOND_LEVEL.has(host.slice(before + 1, last))) {
      return before === 0 ? host : host.slice(host.lastIndexOf(".", before - 1) + 1);
    }
    return host.slice(before + 1);
  }
  const labels = host.split(".").filter((l) => l.length > 0);
  if (labels.length <= 2) return labels.join(".");
  const tld = labels[labels.length - 1]!;
  const second = labels[labels.length - 2]!;
  const keep = tld.length === 2 && SECOND_LEVEL.has(second) ? 3 : 2;
  return labels.slice(-keep).join(".");
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** "www." in any case at the start (as /^www\./i). */
function startsWithWww(text: string): boolean {
  return (
    text.length >= 4 &&
    (text.charCodeAt(0) | 0x20) === 0x77 &&
    (text.charCodeAt(1) | 0x20) === 0x77 &&
    (text.charCodeAt(2) | 0x20) === 0x77 &&
    text.charCodeAt(3) === 0x2e
  );
}

/** A scheme and its colon at the start (as /^[a-z][a-z0-9+.-]*:/i). */
function hasScheme(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const letter = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
    if (i === 0) {
      if (!letter) return false;
    } else if (c === 0x3a) return true;
    else if (!letter && !(c >= 0x30 && c <= 0x39) && c !== 0x2b && c !== 0x2e && c !== 0x2d) return false;
  }
  return false;
}

/** Trailing punctuation a sentence puts after a link (as /[.,;:!?)]+$/). */
function withoutTrailingPunctuation(text: string): string {
  let end = text.length;
  while (end > 0 && ".,;:!?)".includes(text[end - 1]!)) end--;
  return end === text.length ? text : text.slice(0, end);
}

/**
 * Parses one URL as a browser would. Schemeless "www." links get http://. Returns null for what
 * is not a URL a reader could follow.
 *
 * @example
 * parseUrl("http://admin@203.0.113.42/x") // { scheme: "http", host: "203.0.113.42", ip: true, userinfo: true, … }
 */
export function parseUrl(text: string): UrlInfo | null {
  let candidate = text.trim();
  if (startsWithWww(candidate)) candidate = `http://${candidate}`;
  if (!hasScheme(candidate)) return null;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const hostname = url.hostname.toLowerCase();
  const host = hostname.endsWith(".") ? hostname.slice(0, -1) : hostname;
  const last = host.charCodeAt(host.length - 1);
  const ip = host.startsWith("[") || (last >= 0x30 && last <= 0x39 && IPV4.test(host));
  return {
    scheme,
    host,
    domain: ip ? host : registrableDomain(host),
    ip,
    userinfo: url.username !== "" || url.password !== "",
    path: `${url.pathname}${url.search}`.toLowerCase(),
  };
}

/** URLs written out in plain text: a scheme, or a bare "www." host. */
const TEXT_URL = /\b(?:(?:https?|ftp):\/\/|www\.)[^\s<>"'`{}|\\^\])]{1,2048}/gi;
const MAY_WWW = /www\./i;

/**
 * The URLs in a message: plain-text URLs in the text, and link targets and image sources from
 * the HTML; duplicates removed, at most {@link MAX_URLS_PER_MESSAGE}.
 */
export function collectUrls(text: string, hrefs: readonly string[]): UrlInfo[] {
  const seen = new Set<string>();
  const out: UrlInfo[] = [];
  const add = (raw: string): void => {
    const cleaned = withoutTrailingPunctuation(raw);
    if (out.length >= MAX_URLS_PER_MESSAGE || seen.has(cleaned)) return;
    seen.add(cleaned);
    const info = parseUrl(cleaned);
    if (info !== null && info.host !== "") out.push(info);
  };
  for (const href of hrefs) add(href);
  // Every match has "://" or a "www." (in any case); most texts without either are not searched.
  if (!text.includes("://") && !MAY_WWW.test(text)) return out;
  TEXT_URL.lastIndex = 0;
  for (let m = TEXT_URL.exec(text); m !== null && out.length < MAX_URLS_PER_MESSAGE; m = TEXT_URL.exec(text)) add(m[0]);
  return out;
}
