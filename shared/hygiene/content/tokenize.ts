import { prefix, type TokenSink, TokenSet } from "./token-set.ts";
import { registrableDomain } from "./urls.ts";
import type { MessageView } from "./view.ts";
import { addWords, MAX_WORD, MIN_WORD } from "./words.ts";

/**
 * Turns a message into the set of tokens the statistical model scores, each prefixed by where it
 * came from: words of the decoded text and of the HTML's visible text (no prefix), the subject
 * ("subject:free"), the From: domain and display name ("from:dom:example.com",
 * "from:name:support"), link hosts, domains, top-level domains and path words
 * ("url:dom:example.com", "url:path:login"), threading headers ("hdr:in-reply-to"), and how the text looks ("shape:caps:high", "shape:!!!"). A token counts once per message.
 *
 * Two kinds of token are left out on purpose, so the model learns what kinds of mail say rather
 * than the 3,000 messages it was trained on:
 * - anything that identifies one message: Message-ID, Date, Received, numbers, words with more
 *   than two digits (see words.ts), long runs of letters;
 * - anything that says which software or list sent a message rather than what it says: HTML tags,
 *   Content-Type and charset, X-Mailer, List-* and similar. In the 2002 corpus those separate
 *   plain-text Linux mailing lists from HTML spam tools; in later mail most ham is HTML and UTF-8
 *   too.
 */

/** Words a text needs before the share of capitalised words says anything. */
const SHAPE_MIN_WORDS = 20;

/** Headers whose presence is a token (threading headers mark replies, in any era), with their tokens. */
const PRESENCE_HEADERS: readonly (readonly [name: string, token: string])[] = [
  ["in-reply-to", "hdr:in-reply-to"],
  ["references", "hdr:references"],
];

const NO_PREFIX = prefix("");
const SUBJECT = prefix("subject:");
const FROM_NAME = prefix("from:name:");

function firstHeader(view: MessageView, name: string): string | null {
  return view.headers.get(name)?.[0] ?? null;
}

function addHeaderTokens(view: MessageView, out: TokenSink): void {
  const subject = view.email.subject ?? "";
  addWords(subject, SUBJECT, out);
  if (subject.includes("!")) out.add("subject:has:!");
  if (subject.includes("$")) out.add("subject:has:$");
  if (subject.trim() === "") out.add("subject:empty");
  const from = view.email.from;
  if (from?.address !== undefined) {
    const at = from.address.lastIndexOf("@");
    if (at !== -1) out.addJoined(NO_PREFIX, "from:dom:", registrableDomain(from.address.slice(at + 1).toLowerCase()));
    addWords(from.name, FROM_NAME, out);
  }
  const to = firstHeader(view, "to");
  if (to !== null && to.length >= 11) {
    // As /undisclosed|recipient list/i: no other character lower-cases to the letters of either.
    const lower = to.toLowerCase();
    if (lower.includes("undisclosed") || lower.includes("recipient list")) out.add("to:undisclosed");
  }
  for (const [name, token] of PRESENCE_HEADERS) if (view.headers.has(name)) out.add(token);
}

/** The runs of a–z in a (lower-case) link path that are word-sized, as "url:path:" tokens. */
function addPathWords(path: string, out: TokenSink): void {
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    const c = i < path.length ? path.charCodeAt(i) : 0;
    if (c >= 0x61 && c <= 0x7a) continue;
    const length = i - start;
    if (length >= MIN_WORD && length <= MAX_WORD) out.addJoined(NO_PREFIX, "url:path:", path, start, i);
    start = i + 1;
  }
}

function addUrlTokens(view: MessageView, out: TokenSink): void {
  for (const url of view.urls) {
    if (out.full) return;
    out.addJoined(NO_PREFIX, "url:scheme:", url.scheme);
    if (url.ip) out.add("url:ip");
    else {
      out.addJoined(NO_PREFIX, "url:host:", url.host, url.host.startsWith("www.") ? 4 : 0);
      out.addJoined(NO_PREFIX, "url:dom:", url.domain);
      out.addJoined(NO_PREFIX, "url:tld:", url.host, url.host.lastIndexOf(".") + 1);
    }
    if (url.userinfo) out.add("url:userinfo");
    addPathWords(url.path, out);
  }
}

/**
 * Hands every token of a message to `out`, in order (see the module comment).
 *
 * @example
 * addMessageTokens(messageView(email), new TokenSet(true))
 */
export function addMessageTokens(view: MessageView, out: TokenSink): void {
  addHeaderTokens(view, out);
  addUrlTokens(view, out);
  addWords(view.text, NO_PREFIX, out, true);
  // Both bodies: the plain alternative of a spam often says little, and the HTML says the rest.
  addWords(view.htmlText, NO_PREFIX, out, true);
  if (out.words >= SHAPE_MIN_WORDS) {
    const caps = out.capitalWords / out.words;
    out.add(caps >= 0.3 ? "shape:caps:high" : caps >= 0.1 ? "shape:caps:some" : "shape:caps:low");
  }
  if (view.text.includes("!!!") || view.htmlText.includes("!!!")) out.add("shape:!!!");
}

/**
 * The token set of a message (see the module comment), as text: for tests and for looking at
 * what the model sees. Scoring and training use {@link tokenHashes}, which gives the same tokens.
 *
 * @example
 * tokenize(messageView(email)) // Set { "subject:free", "offer", "url:dom:example.com", … }
 */
export function tokenize(view: MessageView): Set<string> {
  const out = new TokenSet(true);
  addMessageTokens(view, out);
  return new Set(out.texts);
}

/**
 * The hashes ({@link tokenHash}) of a message's tokens, in the order {@link tokenize} finds them.
 *
 * @example
 * tokenHashes(messageView(email)) // [2166136261, …]
 */
export function tokenHashes(view: MessageView): number[] {
  const out = new TokenSet(false);
  addMessageTokens(view, out);
  return out.hashes();
}
