import PostalMime, { type Email } from "postal-mime";
import { MAX_HEADERS_BYTES, MAX_MIME_BOUNDARIES, MAX_MIME_NESTING_DEPTH, MAX_MIME_PARTS, MAX_RFC822_NESTING_DEPTH } from "../limits.ts";
import type { RejectReason } from "../verdict.ts";

export type ParseResult = { ok: true; email: Email } | { ok: false; reason: RejectReason };

/**
 * Parses a message exactly once, with explicit limits. Never throws: a message the parser
 * refuses becomes a reason (size of the header block, nesting, or malformed).
 */
export async function parseMessage(raw: Uint8Array): Promise<ParseResult> {
  const parts = countMimeParts(raw);
  if (parts > MAX_MIME_PARTS) return { ok: false, reason: { reason: "too_many_parts", count: parts, max: MAX_MIME_PARTS } };
  try {
    const email = await PostalMime.parse(raw, {
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
 * An upper bound on the number of MIME parts, counted before parsing: the lines that open a part
 * of any multipart boundary the message declares. Linear in the message size, no allocation per
 * part. Past MAX_MIME_BOUNDARIES distinct boundaries it answers "too many" outright.
 */
export function countMimeParts(raw: Uint8Array): number {
  const text = new TextDecoder("latin1").decode(raw);
  const boundaries = new Set<string>();
  for (const m of text.matchAll(/boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))/gi)) {
    boundaries.add(m[1] ?? m[2]!);
    if (boundaries.size > MAX_MIME_BOUNDARIES) return Number.POSITIVE_INFINITY;
  }
  let parts = 0;
  for (const boundary of boundaries) {
    const marker = `\n--${boundary}`;
    for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, at + marker.length)) {
      // The closing delimiter (--boundary--) ends the multipart rather than opening a part.
      if (text.startsWith("--", at + marker.length)) continue;
      if (++parts > MAX_MIME_PARTS) return parts;
    }
  }
  return parts;
}
