import { CONTENT_MAX_TOKENS } from "../../limits.ts";
import { registrableDomain } from "./urls.ts";
import type { MessageView } from "./view.ts";

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
 *   than {@link MAX_DIGITS_IN_WORD} digits, long runs of letters;
 * - anything that says which software or list sent a message rather than what it says: HTML tags,
 *   Content-Type and charset, X-Mailer, List-* and similar. In the 2002 corpus those separate
 *   plain-text Linux mailing lists from HTML spam tools; in later mail most ham is HTML and UTF-8
 *   too.
 */

/** Shorter words are too common to tell anything (SpamBayes found the same). */
const MIN_WORD = 3;
/** Longer "words" are mostly encoded junk or identifiers; they become a coarse "skip" token. */
const MAX_WORD = 12;
/**
 * Longest white-space separated run treated as a word; a longer one becomes a skip token without
 * further inspection (stripping punctuation from an unbounded run would cost quadratic time).
 */
const MAX_RAW_WORD = 64;
/** Largest length bucket of a skip token, so junk of every length does not mint new tokens. */
const MAX_SKIP_BUCKET = 100;
/** A word with more digits is a reference, a phone number or an ID, not vocabulary. */
const MAX_DIGITS_IN_WORD = 2;
/** Character pairs taken from one run of CJK text (which has no spaces to split on). */
const MAX_CJK_BIGRAMS = 400;
/** Words a text needs before the share of capitalised words says anything. */
const SHAPE_MIN_WORDS = 20;

/** Headers whose presence is a token: threading headers mark replies, in any era. */
const PRESENCE_HEADERS = ["in-reply-to", "references"];

const EDGE_PUNCTUATION = /^[^\p{L}\p{N}$]+|[^\p{L}\p{N}%]+$/gu;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;
const HAS_CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const NON_ASCII = /[^\x00-\x7f]/;
const HAS_DIGIT = /\d/;
const DIGITS = /\d/g;

/** Collects tokens up to {@link CONTENT_MAX_TOKENS}, and counts words in capitals. */
class TokenSet {
  readonly tokens = new Set<string>();
  words = 0;
  capitalWords = 0;
  add(token: string): void {
    if (this.tokens.size < CONTENT_MAX_TOKENS) this.tokens.add(token);
  }
  get full(): boolean {
    return this.tokens.size >= CONTENT_MAX_TOKENS;
  }
}

function addCjk(word: string, prefix: string, out: TokenSet): void {
  CJK.lastIndex = 0;
  for (let m = CJK.exec(word); m !== null; m = CJK.exec(word)) {
    const run = m[0];
    if (run.length === 1) out.add(`${prefix}${run}`);
    for (let i = 0; i + 1 < run.length && i < MAX_CJK_BIGRAMS; i++) out.add(`${prefix}${run.slice(i, i + 2)}`);
  }
}

/** a–z and 0–9: a word that starts and ends with one needs no punctuation stripped. */
function isAsciiAlnum(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39);
}

function skipToken(word: string, prefix: string): string {
  // SpamBayes' trick: the first character and the length in tens still carry a little signal.
  return `${prefix}skip:${word[0]}:${Math.min(Math.floor(word.length / 10) * 10, MAX_SKIP_BUCKET)}`;
}

/** Adds the tokens of one white-space separated word (already lower case). */
function addWord(raw: string, prefix: string, out: TokenSet): void {
  if (raw.length > MAX_RAW_WORD) {
    if (!/^\W{0,8}(?:(?:https?|ftp):|www\.)/.test(raw)) out.add(skipToken(raw, prefix)); // links are tokenised from the URL list
    return;
  }
  const word = isAsciiAlnum(raw.charCodeAt(0)) && isAsciiAlnum(raw.charCodeAt(raw.length - 1)) ? raw : raw.replace(EDGE_PUNCTUATION, "");
  if (word.length === 0) return;
  if (NON_ASCII.test(word) && HAS_CJK.test(word)) return addCjk(word, prefix, out);
  const at = word.indexOf("@");
  if (at > 0 && word.indexOf(".", at) > at) {
    out.add(`${prefix}email:${registrableDomain(word.slice(at + 1))}`);
    return;
  }
  if (/^(?:https?|ftp):|^www\./.test(word)) return; // links are tokenised from the URL list
  if (HAS_DIGIT.test(word)) {
    if (word[0] === "$") return out.add(`${prefix}$money`);
    if (word.endsWith("%")) return out.add(`${prefix}%percent`);
    const digits = word.match(DIGITS)!.length;
    if (digits > MAX_DIGITS_IN_WORD || digits === word.length) return;
  }
  if (word.length < MIN_WORD) return;
  if (word.length > MAX_WORD) {
    out.add(skipToken(word, prefix));
    return;
  }
  out.add(`${prefix}${word}`);
}

/** Adds the words of a text; `countShape` also counts words written in capitals. */
function addWords(text: string, prefix: string, out: TokenSet, countShape = false): void {
  for (const raw of text.split(/\s+/)) {
    if (out.full) return;
    if (raw.length === 0) continue;
    const lower = raw.toLowerCase();
    if (countShape && raw.length >= MIN_WORD) {
      out.words++;
      if (raw !== lower && raw === raw.toUpperCase()) out.capitalWords++;
    }
    addWord(lower, prefix, out);
  }
}

function firstHeader(view: MessageView, name: string): string | null {
  return view.headers.get(name)?.[0] ?? null;
}

function addHeaderTokens(view: MessageView, out: TokenSet): void {
  const subject = view.email.subject ?? "";
  addWords(subject, "subject:", out);
  if (subject.includes("!")) out.add("subject:has:!");
  if (subject.includes("$")) out.add("subject:has:$");
  if (subject.trim() === "") out.add("subject:empty");
  const from = view.email.from;
  if (from?.address !== undefined) {
    const at = from.address.lastIndexOf("@");
    if (at !== -1) out.add(`from:dom:${registrableDomain(from.address.slice(at + 1).toLowerCase())}`);
    addWords(from.name, "from:name:", out);
  }
  if (/undisclosed|recipient list/i.test(firstHeader(view, "to") ?? "")) out.add("to:undisclosed");
  for (const name of PRESENCE_HEADERS) if (view.headers.has(name)) out.add(`hdr:${name}`);
}

function addUrlTokens(view: MessageView, out: TokenSet): void {
  for (const url of view.urls) {
    if (out.full) return;
    out.add(`url:scheme:${url.scheme}`);
    if (url.ip) out.add("url:ip");
    else {
      out.add(`url:host:${url.host.replace(/^www\./, "")}`);
      out.add(`url:dom:${url.domain}`);
      out.add(`url:tld:${url.host.slice(url.host.lastIndexOf(".") + 1)}`);
    }
    if (url.userinfo) out.add("url:userinfo");
    for (const piece of url.path.split(/[^a-z]+/)) {
      if (piece.length >= MIN_WORD && piece.length <= MAX_WORD) out.add(`url:path:${piece}`);
    }
  }
}

/**
 * The token set of a message (see the module comment).
 *
 * @example
 * tokenize(messageView(email)) // Set { "subject:free", "offer", "url:dom:example.com", … }
 */
export function tokenize(view: MessageView): Set<string> {
  const out = new TokenSet();
  addHeaderTokens(view, out);
  addUrlTokens(view, out);
  addWords(view.text, "", out, true);
  // Both bodies: the plain alternative of a spam often says little, and the HTML says the rest.
  addWords(view.htmlText, "", out, true);
  if (out.words >= SHAPE_MIN_WORDS) {
    const caps = out.capitalWords / out.words;
    out.add(`shape:caps:${caps >= 0.3 ? "high" : caps >= 0.1 ? "some" : "low"}`);
  }
  if (view.text.includes("!!!") || view.htmlText.includes("!!!")) out.add("shape:!!!");
  return out.tokens;
}
