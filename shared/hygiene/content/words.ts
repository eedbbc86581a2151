import { FNV_PRIME, hashFrom } from "./hash.ts";
import type { Prefix, TokenSink } from "./token-set.ts";
import { registrableDomain } from "./urls.ts";

/**
 * The words of a text as tokens (see tokenize.ts for what the tokens are for): lower case, with
 * the punctuation around them stripped, too short, numeric or link-like words left out, long
 * runs, prices, percentages and addresses turned into coarse tokens, CJK text into pairs.
 */

/** Shorter words are too common to tell anything (SpamBayes found the same). */
export const MIN_WORD = 3;
/** Longer "words" are mostly encoded junk or identifiers; they become a coarse "skip" token. */
export const MAX_WORD = 12;
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

const EDGE_PUNCTUATION = /^[^\p{L}\p{N}$]+|[^\p{L}\p{N}%]+$/gu;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;
const HAS_CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const NON_ASCII = /[^\x00-\x7f]/;
const HAS_DIGIT = /\d/;
const DIGITS = /\d/g;
const LINK = /^(?:https?|ftp):|^www\./;
/** A long run that starts like a link (up to 8 non-word characters before it). */
const LINK_START = /^\W{0,8}(?:(?:https?|ftp):|www\.)/;

function addCjk(word: string, prefix: string, out: TokenSink): void {
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

/** The code unit in lower case, for ASCII letters. */
function lowerAscii(code: number): number {
  return code >= 0x41 && code <= 0x5a ? code | 0x20 : code;
}

/** White space as `\s` in a regular expression has it (ECMAScript WhiteSpace and LineTerminator). */
export function isSpace(c: number): boolean {
  if (c < 0x80) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return (
    c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

function skipToken(word: string, prefix: string): string {
  // SpamBayes' trick: the first character and the length in tens still carry a little signal.
  return `${prefix}skip:${word[0]}:${Math.min(Math.floor(word.length / 10) * 10, MAX_SKIP_BUCKET)}`;
}

/** Adds the tokens of one white-space separated word (already lower case). */
function addWord(raw: string, prefix: string, out: TokenSink): void {
  if (raw.length > MAX_RAW_WORD) {
    if (!LINK_START.test(raw)) out.add(skipToken(raw, prefix)); // links are tokenised from the URL list
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
  if (LINK.test(word)) return; // links are tokenised from the URL list
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

/** What an ASCII character is to the tokenizer, as bit flags (see {@link ASCII_CLASS}). */
const SPACE = 1;
const UPPER = 2;
const LOWER = 4;
const DIGIT = 8;
const AT = 16;
/** Letters, digits and "$": where a word starts once leading punctuation is stripped. */
const OPENS = 32;
/** Letters, digits and "%": where a word ends once trailing punctuation is stripped. */
const CLOSES = 64;
/** Any other character that is not white space: punctuation, symbols, controls. */
const OTHER = 128;
/** The flags a word made of letters alone can have. */
const LETTER_FLAGS = UPPER | LOWER | OPENS | CLOSES;

/** Flags of each ASCII code. Letters and digits are the ASCII part of \p{L} and \p{N}. */
const ASCII_CLASS = (() => {
  const table = new Uint8Array(128).fill(OTHER);
  for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]) table[c] = SPACE;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = UPPER | OPENS | CLOSES;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = LOWER | OPENS | CLOSES;
  for (let c = 0x30; c <= 0x39; c++) table[c] = DIGIT | OPENS | CLOSES;
  table[0x24] = OPENS | OTHER; // $
  table[0x25] = CLOSES | OTHER; // %
  table[0x40] = AT | OTHER;
  return table;
})();

/** Whether `text[at, end)` starts with ASCII `lower` (compared in lower case). */
function startsWithLower(text: string, at: number, end: number, lower: string): boolean {
  if (end - at < lower.length) return false;
  for (let i = 0; i < lower.length; i++) if (lowerAscii(text.charCodeAt(at + i)) !== lower.charCodeAt(i)) return false;
  return true;
}

/**
 * {@link addWord} for a word of ASCII characters, `text[start, end)`, read in place: the same
 * tokens, without lower-casing, slicing or regular expressions for the common case. `flags` are
 * the word's characters' {@link ASCII_CLASS} flags together, `digits` how many digits it has
 * (stripping punctuation never removes one), `closed` the FNV-1a state of the prefix and the
 * word in lower case up to its last character that may end a word.
 */
function addAsciiWord(text: string, start: number, end: number, flags: number, digits: number, closed: number, p: Prefix, out: TokenSink): void {
  if (end - start > MAX_RAW_WORD) return addWord(text.slice(start, end).toLowerCase(), p.text, out);
  // Punctuation around the word: "$" may open it and "%" close it (see EDGE_PUNCTUATION).
  let a = start;
  while (a < end && (ASCII_CLASS[text.charCodeAt(a)]! & OPENS) === 0) a++;
  let b = end;
  while (b > a && (ASCII_CLASS[text.charCodeAt(b - 1)]! & CLOSES) === 0) b--;
  const length = b - a;
  if (length === 0) return;
  if ((flags & AT) !== 0) {
    let at = a;
    while (at < b && text.charCodeAt(at) !== 0x40) at++;
    if (at > a && at < b) {
      let dot = at + 1;
      while (dot < b && text.charCodeAt(dot) !== 0x2e) dot++;
      if (dot < b) {
        out.addJoined(p, "email:", registrableDomain(text.slice(at + 1, b).toLowerCase()));
        return;
      }
    }
  }
  const first = lowerAscii(text.charCodeAt(a));
  if (
    (first === 0x68 && (startsWithLower(text, a, b, "http:") || startsWithLower(text, a, b, "https:"))) ||
    (first === 0x66 && startsWithLower(text, a, b, "ftp:")) ||
    (first === 0x77 && startsWithLower(text, a, b, "www."))
  ) {
    return; // links are tokenised from the URL list
  }
  if (digits > 0) {
    if (first === 0x24) return out.addJoined(p, "$money", "");
    if (text.charCodeAt(b - 1) === 0x25) return out.addJoined(p, "%percent", "");
    if (digits > MAX_DIGITS_IN_WORD || digits === length) return;
  }
  if (length < MIN_WORD) return;
  if (length > MAX_WORD) {
    out.add(skipToken(text.slice(a, b).toLowerCase(), p.text));
    return;
  }
  // `closed` is the hash of the word from its start to its last closing character: the token's
  // hash, unless punctuation opened the word.
  out.addAscii(p, text, a, b, a === start ? closed : hashFrom(p.hash, text, a, b, true));
}

/**
 * Adds the words of a text (runs between white space); `countShape` also counts words written in
 * capitals. One pass over the characters: ASCII words (nearly all) are read in place, others go
 * through {@link addWord}.
 *
 * @example
 * const out = new TokenSet(true);
 * addWords("Only $19.99, from Sales@Shop.Example.com!", prefix(""), out);
 * out.texts // ["only", "$money", "from", "email:example.com"]
 */
export function addWords(text: string, p: Prefix, out: TokenSink, countShape = false): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c0 = text.charCodeAt(i);
    if (c0 < 0x80 ? ASCII_CLASS[c0] === SPACE : isSpace(c0)) {
      i++;
      continue;
    }
    if (out.full) return;
    const start = i;
    let ascii = true;
    let flags = 0;
    let digits = 0;
    // The token's hash is taken in the same pass (FNV-1a from the prefix's state, letters in
    // lower case: UPPER << 4 is the case bit), so the characters of a word are read once.
    let h = p.hash;
    let closed = h;
    for (; i < n; i++) {
      let c = text.charCodeAt(i);
      if ((c - 0x61) >>> 0 < 26) {
        // A run of a–z, most characters of most text, read in a loop of its own.
        do {
          h = Math.imul(h ^ c, FNV_PRIME);
          c = ++i < n ? text.charCodeAt(i) : 0x20;
        } while ((c - 0x61) >>> 0 < 26);
        flags |= LOWER | OPENS | CLOSES;
        closed = h;
        if (i === n) break;
      }
      if (c < 0x80) {
        const f = ASCII_CLASS[c]!;
        if (f === SPACE) break;
        flags |= f;
        if ((f & DIGIT) !== 0) digits++;
        h = Math.imul(h ^ (c | ((f & UPPER) << 4)), FNV_PRIME);
        if ((f & CLOSES) !== 0) closed = h;
      } else if (isSpace(c)) break;
      else ascii = false;
    }
    if (ascii) {
      const length = i - start;
      if (length >= MIN_WORD) {
        if (countShape) {
          out.words++;
          if ((flags & (UPPER | LOWER)) === UPPER) out.capitalWords++;
        }
        // Letters only (nearly every word): nothing to strip, no digits, no "@", not a link (a
        // scheme needs its colon, "www." its dot) — a word token when it is not too long.
        if ((flags & ~LETTER_FLAGS) === 0 && length <= MAX_WORD) out.addAscii(p, text, start, i, h);
        else addAsciiWord(text, start, i, flags, digits, closed, p, out);
      } else if (digits > 0) {
        // A short word gives a token only as a price or a percentage ("$5", "5%").
        addAsciiWord(text, start, i, flags, digits, closed, p, out);
      }
      continue;
    }
    const raw = text.slice(start, i);
    const lowered = raw.toLowerCase();
    if (countShape && raw.length >= MIN_WORD) {
      out.words++;
      if (raw !== lowered && raw === raw.toUpperCase()) out.capitalWords++;
    }
    addWord(lowered, p.text, out);
  }
}
