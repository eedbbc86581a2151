import PostalMime, { type Email } from "postal-mime";
import { MAX_HEADERS_BYTES, MAX_MIME_NESTING_DEPTH, MAX_RFC822_NESTING_DEPTH } from "../limits.ts";
import type { RejectReason } from "../verdict.ts";

export type ParseResult = { ok: true; email: Email } | { ok: false; reason: RejectReason };

/**
 * Parses a message exactly once, with explicit limits. Never throws: a message the parser
 * refuses becomes a reason (size of the header block, nesting, or malformed).
 */
export async function parseMessage(raw: Uint8Array): Promise<ParseResult> {
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
