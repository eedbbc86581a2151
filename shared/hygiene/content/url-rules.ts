import type { ContentRule } from "./rule.ts";
import type { MessageView } from "./view.ts";
import { parseUrl, registrableDomain } from "./urls.ts";
import { isSpace } from "./words.ts";

/** Redirector parameters followed, at most, when looking for where a link really goes. */
const MAX_REDIRECT_DEPTH = 4;

/** Link text that is itself a URL or a bare domain, so the reader believes they know the destination. */
const URL_LIKE_TEXT = /^(?:(?:https?|ftp):\/\/)?((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})\.?(?::\d{1,5})?(?:[/?#]\S*)?$/i;
/** URLs parsed per link: a crafted link with many URL parameters nested deep must not fan out. */
const MAX_REDIRECT_TARGETS = 8;

/** The URLs carried in a link's query parameters (a redirector's targets), decoded once. */
function embeddedUrls(href: string): string[] {
  const query = href.indexOf("?");
  if (query === -1) return [];
  const out: string[] = [];
  for (const pair of href.slice(query + 1).split(/[&;]/)) {
    let value = pair.slice(pair.indexOf("=") + 1);
    try {
      value = decodeURIComponent(value.replace(/\+/g, " "));
    } catch {
      continue;
    }
    if (/^https?:\/\//i.test(value)) out.push(value);
  }
  return out;
}

/**
 * Where a link ends up after redirectors that carry their target in a query parameter
 * ("https://r.example/?u=https%3A%2F%2Fbank.example%2F"): the domains of the innermost targets,
 * or of the link itself when it carries none. At most {@link MAX_REDIRECT_DEPTH} levels and
 * {@link MAX_REDIRECT_TARGETS} URLs are looked at, however the link nests its parameters.
 */
export function linkTargets(href: string): string[] {
  const domains: string[] = [];
  let level = [href];
  let budget = MAX_REDIRECT_TARGETS;
  for (let depth = 0; level.length > 0 && budget > 0; depth++) {
    const next: string[] = [];
    for (const link of level) {
      if (budget-- <= 0) break;
      const url = parseUrl(link);
      if (url === null) continue;
      const inner = depth < MAX_REDIRECT_DEPTH ? embeddedUrls(link) : [];
      if (inner.length === 0) domains.push(url.domain);
      else next.push(...inner);
    }
    level = next;
  }
  return domains;
}

/** x, X or *: the characters that disguise the "tt" of http. */
function isDisguisedT(c: number): boolean {
  return c === 0x78 || c === 0x58 || c === 0x2a;
}

/** A–Z, a–z, 0–9 and _: what `\b` counts as a word character. */
function isWordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f;
}

/**
 * Whether the text has "hxxp://" (as /\bh[x*]{2}ps?:\/\//i), found from each "://" backwards: a
 * handful of look-ups instead of a search of the whole text.
 */
function hasHxxp(text: string): boolean {
  for (let colon = text.indexOf("://"); colon !== -1; colon = text.indexOf("://", colon + 1)) {
    let p = colon - 1;
    if (p >= 0 && (text.charCodeAt(p) | 0x20) === 0x73) p--; // the optional "s"
    if (p < 3 || (text.charCodeAt(p) | 0x20) !== 0x70) continue;
    if (!isDisguisedT(text.charCodeAt(p - 1)) || !isDisguisedT(text.charCodeAt(p - 2))) continue;
    const h = p - 3;
    if ((text.charCodeAt(h) | 0x20) !== 0x68 || (h > 0 && isWordChar(text.charCodeAt(h - 1)))) continue;
    return true;
  }
  return false;
}

/**
 * Whether the text has a "p" (or "P") with white space before it and then, after optional white
 * space and an "s", a colon — what every match of /\bh\s+t\s+t\s+p\s*s?\s*:/i ends with —
 * found from each colon backwards. Ordinary text has few colons, and "http:" is ruled out at
 * the "t" before its "p".
 */
function maySpacedHttp(text: string): boolean {
  for (let colon = text.indexOf(":"); colon !== -1; colon = text.indexOf(":", colon + 1)) {
    let p = colon - 1;
    while (p >= 0 && isSpace(text.charCodeAt(p))) p--;
    if (p >= 0 && (text.charCodeAt(p) | 0x20) === 0x73) p--; // the optional "s"
    while (p >= 0 && isSpace(text.charCodeAt(p))) p--;
    if (p >= 1 && (text.charCodeAt(p) | 0x20) === 0x70 && isSpace(text.charCodeAt(p - 1))) return true;
  }
  return false;
}

/**
 * Each pattern with a cheaper test that every match passes, so most texts are not searched with
 * the pattern itself: an exact search from each "://" for hxxp, a bracketed dot or the word "dot"
 * for [.], a spaced "p" before a colon for "h t t p".
 */
const OBFUSCATIONS: { pattern: RegExp; label: string; may: (text: string, view: MessageView) => boolean }[] = [
  { pattern: /\bh[x*]{2}ps?:\/\//i, label: "hxxp://", may: (text) => hasHxxp(text) },
  {
    pattern: /(?<=[a-z0-9-])(?:\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\))[a-z0-9-]{2,}/i,
    label: "[.]",
    may: (text, view) => text.includes("[.]") || text.includes("(.)") || text.includes("{.}") || view.textHasDot,
  },
  { pattern: /\bh\s+t\s+t\s+p\s*s?\s*:\s*\/\s*\//i, label: "h t t p : / /", may: (text) => maySpacedHttp(text) },
];

// Anchored on the "dot" (lookbehind for the name), so the search does not restart at every word.
const WORD_DOT = /(?<=[a-z0-9-]{2})\s+dot\s+(?:com|net|org|info|biz|ru|cn|io|co|us|uk|de)\b/i;

/** Rules over the links in the text and the HTML. */
export const URL_RULES: readonly ContentRule[] = [
  {
    name: "URL_NUMERIC_IP",
    score: 1.5,
    description:
      "A web link to a bare IP address (http://203.0.113.42/, including decimal, octal and hex forms a browser accepts) instead of a name: legitimate senders link to their domain.",
    test: ({ view }) => {
      const hit = view.urls.find((u) => u.ip && (u.scheme === "http" || u.scheme === "https"));
      return hit === undefined ? null : hit.host;
    },
  },
  {
    name: "URL_USERINFO",
    score: 1.5,
    description: "A web link with a user name before the host (http://www.bank.example@evil.example/): the part a reader notices is not where the link goes.",
    test: ({ view }) => {
      const hit = view.urls.find((u) => u.userinfo && (u.scheme === "http" || u.scheme === "https"));
      return hit === undefined ? null : `user@${hit.host}`;
    },
  },
  {
    name: "URL_OBFUSCATED",
    score: 1.5,
    description:
      'An address written so that filters do not see a link but a reader can type it: "hxxp://", "example[.]com", "h t t p s : / /", "example dot com".',
    test: ({ view }) => OBFUSCATIONS.find((o) => o.may(view.text, view) && o.pattern.test(view.text))?.label ?? null,
  },
  {
    name: "URL_OBFUSCATED_WORD_DOT",
    score: 0.5,
    description:
      'A domain spelled out with "dot" ("secure-login dot net"). Scored low: people write their own addresses that way ("jo at example dot com") to keep them from harvesters.',
    // The look-behind makes the search slow; most texts have no "dot" at all, which the view already knows.
    test: ({ view }) => (view.textHasDot ? (WORD_DOT.exec(view.text)?.[0].trim() ?? null) : null),
  },
  {
    name: "URL_TEXT_MISMATCH",
    score: 2,
    description:
      "An HTML link whose visible text is a URL or domain other than where it goes (after redirectors that carry the target in a query parameter): the classic phishing link.",
    test: ({ view }) => {
      for (const link of view.html?.links ?? []) {
        const shown = URL_LIKE_TEXT.exec(link.text);
        if (shown === null || !/^https?:/i.test(link.href)) continue;
        const shownDomain = registrableDomain(shown[1]!.toLowerCase());
        const actual = linkTargets(link.href).find((d) => d !== shownDomain);
        if (actual !== undefined) return `shows ${shownDomain}, goes to ${actual}`;
      }
      return null;
    },
  },
];
