import type { Address, Email } from "postal-mime";
import { scanHtml } from "../../../shared/hygiene/content/html.ts";
import { parseMessage } from "../../../shared/hygiene/parse.ts";
import type { RejectReason } from "../../../shared/verdict.ts";
import {
  PREVIEW_HEADER_MAX_BYTES,
  PREVIEW_HTML_SCAN_MAX_CHARS,
  PREVIEW_MAX_ADDRESSES,
  PREVIEW_MAX_ATTACHMENTS,
  PREVIEW_MAX_LINKS,
  PREVIEW_NAME_MAX_CHARS,
  PREVIEW_TEXT_MAX_CHARS,
} from "./limits.ts";

/**
 * A quarantined message as an operator may look at it without risk: text only. The header block
 * as received (capped), the body's plain text (the text/plain part, or the HTML turned into text
 * by the content filter's own linear scanner — never HTML to render, never anything fetched), the
 * HTML's links as text, and the attachments' names, types and sizes (never their contents).
 * Parsed with the edge's parser and its limits; a message the parser refuses gets a `problem`
 * that says why, with the header block still shown.
 */
export interface SafePreview {
  headers: { text: string; bytes: number; truncated: boolean };
  /** Null when the message was parsed; otherwise why not (the body and attachments are then empty). */
  problem: { code: string; message: string } | null;
  from: string | null;
  to: string[];
  cc: string[];
  subject: string | null;
  date: string | null;
  text: { content: string; source: "text/plain" | "text/html" | "none"; truncated: boolean };
  links: { href: string; text: string }[];
  attachments: { filename: string | null; contentType: string; size: number; disposition: string | null; inline: boolean }[];
  /** Attachments the message has; more than `attachments` lists when past PREVIEW_MAX_ATTACHMENTS. */
  attachmentCount: number;
}

/**
 * Control characters other than tab and newline, and the Unicode bidirectional overrides and
 * isolates: shown in a terminal or a page they can move the cursor, or make "invoice‮fdp.exe"
 * read as "invoiceexe.pdf".
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Text safe to show: CRLF as LF, unsafe characters as U+FFFD. */
export function safeText(text: string): string {
  return text.replace(/\r\n?/g, "\n").replace(UNSAFE, "\ufffd");
}

function cut(text: string, max: number): { text: string; truncated: boolean } {
  return text.length > max ? { text: text.slice(0, max), truncated: true } : { text, truncated: false };
}

const name = (text: string): string => cut(safeText(text), PREVIEW_NAME_MAX_CHARS).text;

/** The header block as received: the bytes up to the first empty line, capped. */
function headerBlock(raw: Uint8Array): SafePreview["headers"] {
  let end = raw.length;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x0a) continue;
    if (raw[i + 1] === 0x0a || (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a)) {
      end = i + 1;
      break;
    }
  }
  const shown = Math.min(end, PREVIEW_HEADER_MAX_BYTES);
  // Not fatal: a header with stray 8-bit bytes is still worth reading.
  const text = safeText(new TextDecoder("utf-8", { fatal: false, ignoreBOM: false }).decode(raw.subarray(0, shown)));
  return { text, bytes: end, truncated: end > shown };
}

/** What the parser refused, in words. */
function describe(reason: RejectReason): { code: string; message: string } {
  switch (reason.reason) {
    case "too_many_headers":
      return { code: reason.reason, message: `The message has more than ${reason.max} header fields; it is not parsed.` };
    case "too_many_parts":
      return { code: reason.reason, message: `The message has more than ${reason.max} MIME parts; it is not parsed.` };
    case "headers_too_large":
      return { code: reason.reason, message: `The message's headers exceed ${reason.max} bytes; it is not parsed.` };
    case "nesting_too_deep":
      return { code: reason.reason, message: `The message's MIME parts are nested deeper than ${reason.max}; it is not parsed.` };
    case "malformed":
      return { code: reason.reason, message: `The message could not be parsed: ${name(reason.detail)}` };
    default:
      return { code: reason.reason, message: "The message could not be parsed." };
  }
}

function addresses(list: Address[] | undefined): string[] {
  const out: string[] = [];
  for (const a of list ?? []) {
    for (const m of a.group ?? [a]) {
      if (out.length >= PREVIEW_MAX_ADDRESSES) return out;
      out.push(name(m.name ? `${m.name} <${m.address ?? ""}>` : (m.address ?? "")));
    }
  }
  return out;
}

/** Blank lines collapsed, trailing spaces removed: HTML turned to text is mostly white space. */
function tidy(text: string): string {
  return text
    .replace(/[ \t\u00a0]+/g, " ")
    .replace(/ *\n */g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

function body(email: Email): Pick<SafePreview, "text" | "links"> {
  const html = email.html === undefined || email.html === "" ? null : scanHtml(email.html, PREVIEW_HTML_SCAN_MAX_CHARS);
  const links = (html?.links ?? []).slice(0, PREVIEW_MAX_LINKS).map((l) => ({ href: name(l.href), text: name(l.text) }));
  const source = email.text !== undefined && email.text !== "" ? "text/plain" : html !== null ? "text/html" : "none";
  const raw = source === "text/plain" ? email.text!.trimEnd() : source === "text/html" ? tidy(html!.text) : "";
  // Cut before the character pass, so a huge body costs no more than the cap.
  const { text, truncated } = cut(raw, PREVIEW_TEXT_MAX_CHARS);
  return { text: { content: safeText(text), source, truncated }, links };
}

/**
 * The safe preview of a stored message's bytes (see {@link SafePreview}). Never throws on the
 * message's content.
 *
 * @example
 * (await safePreview(raw)).text.content // "Hello Alice, …"
 */
export async function safePreview(raw: Uint8Array): Promise<SafePreview> {
  const headers = headerBlock(raw);
  const empty = { from: null, to: [], cc: [], subject: null, date: null, links: [], attachments: [], attachmentCount: 0 };
  const parsed = await parseMessage(raw);
  if (!parsed.ok) return { headers, problem: describe(parsed.reason), ...empty, text: { content: "", source: "none", truncated: false } };
  const email = parsed.email;
  const from = addresses(email.from === undefined ? [] : [email.from])[0] ?? null;
  return {
    headers,
    problem: null,
    from,
    to: addresses(email.to),
    cc: addresses(email.cc),
    subject: email.subject === undefined ? null : name(email.subject),
    date: email.date === undefined ? null : name(email.date),
    ...body(email),
    attachments: email.attachments.slice(0, PREVIEW_MAX_ATTACHMENTS).map((a) => ({
      filename: a.filename === null ? null : name(a.filename),
      contentType: name(a.mimeType),
      size: typeof a.content === "string" ? a.content.length : a.content.byteLength,
      disposition: a.disposition === null ? null : name(a.disposition),
      inline: a.related === true,
    })),
    attachmentCount: email.attachments.length,
  };
}
