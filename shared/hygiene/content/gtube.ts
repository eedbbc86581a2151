import type { Attachment, Email } from "postal-mime";
import { GTUBE_ATTACHMENT_SCAN_BYTES, GTUBE_PDF_MAX_BYTES, OCR_MAX_IMAGES } from "../../limits.ts";
import { searchImage } from "./ocr/search.ts";
import { isPng } from "./ocr/png.ts";
import { pdfText } from "./pdf-text.ts";

/**
 * The Generic Test for Unsolicited Bulk Email: a message containing this string is spam by
 * definition (SCL 9), so administrators can check the filter end to end without real spam.
 * The exact string only — "the GTUBE" in prose is not it.
 */
export const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/** Extensions of attachments read as text for the GTUBE search, whatever their declared type. */
const TEXT_EXTENSIONS = new Set(["txt", "text", "csv", "log", "htm", "html", "xml", "json", "md", "eml"]);
/** Bytes sniffed to tell an undeclared text attachment (application/octet-stream) from binary. */
const SNIFF_BYTES = 512;

function bytesOf(content: Attachment["content"]): Uint8Array {
  if (typeof content === "string") return new TextEncoder().encode(content);
  return content instanceof Uint8Array ? content : new Uint8Array(content);
}

function extension(filename: string | null): string {
  const dot = filename?.lastIndexOf(".") ?? -1;
  return dot === -1 ? "" : filename!.slice(dot + 1).toLowerCase();
}

/** Printable ASCII, white space and UTF-8 sequences only: what a text file's first bytes look like. */
function looksLikeText(bytes: Uint8Array): boolean {
  const end = Math.min(bytes.length, SNIFF_BYTES);
  for (let i = 0; i < end; i++) {
    const b = bytes[i]!;
    if (b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f) return false;
  }
  return end > 0;
}

function isPdf(attachment: Attachment, bytes: Uint8Array): boolean {
  return (
    attachment.mimeType === "application/pdf" ||
    extension(attachment.filename) === "pdf" ||
    (bytes[0] === 0x25 && bytes[1] === 0x50 && bytes[2] === 0x44 && bytes[3] === 0x46)
  );
}

/** ASCII view of the first bytes: GTUBE is ASCII, so no charset decoding is needed to find it. */
function asciiPrefix(bytes: Uint8Array, max: number): string {
  const view = bytes.subarray(0, max);
  const parts: string[] = [];
  for (let i = 0; i < view.length; i += 4096) parts.push(String.fromCharCode.apply(null, view.subarray(i, i + 4096) as unknown as number[]));
  return parts.join("");
}

/**
 * Where the GTUBE string is in a message, or null: the decoded text and HTML bodies, text
 * attachments (declared text/*, a text extension, or undeclared bytes that sniff as text; first
 * {@link GTUBE_ATTACHMENT_SCAN_BYTES}), and the text of PDF attachments up to
 * {@link GTUBE_PDF_MAX_BYTES}; then, when none of those has it, the first {@link OCR_MAX_IMAGES} PNG
 * images, for it drawn as text ({@link searchImage}, within the other OCR_MAX_* limits).
 *
 * @example
 * findGtube(email) // "text" | "html" | "attachment gtube.txt" | "pdf gtube.pdf" | "image gtube.png" | null
 */
export function findGtube(email: Email): string | null {
  if (email.text?.includes(GTUBE)) return "text";
  if (email.html?.includes(GTUBE)) return "html";
  for (const attachment of email.attachments) {
    const name = attachment.filename ?? attachment.mimeType;
    const bytes = bytesOf(attachment.content);
    if (isPdf(attachment, bytes)) {
      if (bytes.length <= GTUBE_PDF_MAX_BYTES && pdfText(bytes).replace(/\s+/g, "").includes(GTUBE)) return `pdf ${name}`;
      continue;
    }
    const text = attachment.mimeType.startsWith("text/") || TEXT_EXTENSIONS.has(extension(attachment.filename)) || looksLikeText(bytes);
    if (text && asciiPrefix(bytes, GTUBE_ATTACHMENT_SCAN_BYTES).includes(GTUBE)) return `attachment ${name}`;
  }
  // Reading pixels costs most, so images come last, and only the first few.
  let images = 0;
  for (const attachment of email.attachments) {
    const bytes = bytesOf(attachment.content);
    if (!isPng(bytes) || images++ >= OCR_MAX_IMAGES) continue;
    if (searchImage(bytes, GTUBE).found) return `image ${attachment.filename ?? attachment.mimeType}`;
  }
  return null;
}
