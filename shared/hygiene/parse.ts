import PostalMime, { type Email } from "postal-mime";
import { MAX_HEADER_FIELDS, MAX_HEADERS_BYTES, MAX_MIME_BOUNDARIES, MAX_MIME_NESTING_DEPTH, MAX_MIME_PARTS, MAX_RFC822_NESTING_DEPTH } from "../limits.ts";
import type { RejectReason } from "../verdict.ts";

export type ParseResult = { ok: true; email: Email } | { ok: false; reason: RejectReason };

/**
 * Parses a message exactly once, with explicit limits. Never throws: a message the parser
 * refuses becomes a reason (size of the header block, nesting, or malformed).
 */
export async function parseMessage(raw: Uint8Array): Promise<ParseResult> {
  const fields = countHeaderFields(raw);
  if (fields > MAX_HEADER_FIELDS) return { ok: false, reason: { reason: "too_many_headers", count: fields, max: MAX_HEADER_FIELDS } };
  const parts = countMimeParts(raw);
  if (parts > MAX_MIME_PARTS) return { ok: false, reason: { reason: "too_many_parts", count: parts, max: MAX_MIME_PARTS } };
  try {
    const email = await PostalMime.parse(wholeBuffer(raw) ?? raw, {
      maxNestingDepth: MAX_MIME_NESTING_DEPTH,
      maxHeadersSize: MAX_HEADERS_BYTES,
      maxRfc822NestingDepth: MAX_RFC822_NESTING_DEPTH,
      // Attachments stay as bytes: later agents inspect magic numbers and archives.
      attachmentEncoding: "arraybuffer",
    });
    return { ok: true, email };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/header size/i.test(message)) return { ok: false, reason: { reason: "headers_too_large", max: MAX_HEADERS_BYTES } };
    if (/nesting depth/i.test(message)) return { ok: false, reason: { reason: "nesting_too_deep", max: MAX_MIME_NESTING_DEPTH } };
    return { ok: false, reason: { reason: "malformed", detail: message.slice(0, 200) } };
  }
}

/**
 * The ArrayBuffer behind `raw` when `raw` covers all of it, else null. The parser copies a typed
 * array's bytes into a buffer of their own before reading them — for a 25 MiB message, 25 MiB more
 * at the peak — but reads an ArrayBuffer in place, and never writes to it.
 */
function wholeBuffer(raw: Uint8Array): ArrayBuffer | null {
  const buffer = raw.buffer;
  return buffer instanceof ArrayBuffer && raw.byteOffset === 0 && raw.byteLength === buffer.byteLength ? buffer : null;
}

const LF = 0x0a;
const DASH = 0x2d;

/**
 * Horspool's skip table for a lower-case ASCII needle matched case-insensitively (each byte folded
 * with `| 0x20`, which maps exactly the upper and lower case of a letter to its lower case).
 */
function skipTable(needle: Uint8Array): Uint8Array {
  const table = new Uint8Array(256).fill(needle.length);
  for (let i = 0; i < needle.length - 1; i++) {
    table[needle[i]!] = needle.length - 1 - i;
    table[needle[i]! & ~0x20] = needle.length - 1 - i;
  }
  return table;
}

/**
 * Case-insensitive search for ASCII `needle` (lower case, letters only) in bytes, from `from`.
 * Horspool's algorithm: most positions are skipped by the needle's length at a time, so the
 * search reads a fraction of a large message.
 */
function indexOfAscii(haystack: Uint8Array, needle: Uint8Array, skip: Uint8Array, from: number): number {
  const last = needle.length - 1;
  for (let i = from; i + last < haystack.length; i += skip[haystack[i + last]!]!) {
    let j = last;
    while (j >= 0 && (haystack[i + j]! | 0x20) === needle[j]) j--;
    if (j < 0) return i;
  }
  return -1;
}

const BOUNDARY = new TextEncoder().encode("boundary");
const BOUNDARY_SKIP = skipTable(BOUNDARY);

/** The boundary parameter value starting at `at` (after "boundary"), or null. */
function boundaryValue(raw: Uint8Array, at: number): Uint8Array | null {
  let i = at;
  while (i < raw.length && (raw[i] === 0x20 || raw[i] === 0x09)) i++;
  if (raw[i] !== 0x3d) return null; // "="
  i++;
  while (i < raw.length && (raw[i] === 0x20 || raw[i] === 0x09)) i++;
  const quoted = raw[i] === 0x22;
  if (quoted) i++;
  const start = i;
  while (i < raw.length && i - start <= 200) {
    const c = raw[i]!;
    if (quoted ? c === 0x22 || c === 0x0d || c === LF : c === 0x3b || c === 0x22 || c <= 0x20) break;
    i++;
  }
  return i > start && i - start <= 200 ? raw.subarray(start, i) : null;
}

/**
 * An upper bound on the number of MIME parts, counted before parsing: the lines that open a part
 * of any multipart boundary the message declares. Works on the bytes, with no copy and no string
 * of the message, in one pass per boundary. Past MAX_MIME_BOUNDARIES distinct boundaries it
 * answers "too many" outright.
 */
export function countMimeParts(raw: Uint8Array): number {
  const boundaries = new Map<string, Uint8Array>();
  for (let at = indexOfAscii(raw, BOUNDARY, BOUNDARY_SKIP, 0); at !== -1; at = indexOfAscii(raw, BOUNDARY, BOUNDARY_SKIP, at + BOUNDARY.length)) {
    const value = boundaryValue(raw, at + BOUNDARY.length);
    if (value === null) continue;
    boundaries.set(String.fromCharCode(...value), value);
    if (boundaries.size > MAX_MIME_BOUNDARIES) return Number.POSITIVE_INFINITY;
  }
  if (boundaries.size === 0) return 0;
  let parts = 0;
  // Lines that start with "--", found by their dashes: base64 has none, so its lines are skipped
  // at the speed of indexOf rather than one at a time. Once a dash has been looked at, the rest of
  // its line cannot start one, so the search goes on from the next line: a line full of dashes
  // (a boundary, a rule, hyphenated words) costs two searches, not one per dash.
  for (let dash = raw.indexOf(DASH, 1); dash !== -1;) {
    if (raw[dash - 1] === LF && raw[dash + 1] === DASH) {
      const start = dash + 2;
      for (const b of boundaries.values()) {
        let k = 0;
        while (k < b.length && raw[start + k] === b[k]) k++;
        if (k < b.length) continue;
        // The closing delimiter (--boundary--) ends the multipart rather than opening a part.
        if (raw[start + k] === DASH && raw[start + k + 1] === DASH) continue;
        if (++parts > MAX_MIME_PARTS) return parts;
        break;
      }
    }
    const lf = raw.indexOf(LF, dash + 1);
    dash = lf === -1 ? -1 : raw.indexOf(DASH, lf + 1);
  }
  return parts;
}

/**
 * Header fields in the top-level header block (lines up to the first empty line that do not
 * start with white space), counted on the bytes, stopping one past the limit.
 */
export function countHeaderFields(raw: Uint8Array): number {
  let fields = 0;
  let lineStart = 0;
  for (;;) {
    const first = raw[lineStart];
    if (first === undefined || first === 0x0d || first === LF) return fields; // end of the header block
    if (first !== 0x20 && first !== 0x09 && ++fields > MAX_HEADER_FIELDS) return fields;
    const nl = raw.indexOf(LF, lineStart);
    if (nl === -1) return fields;
    lineStart = nl + 1;
  }
}
