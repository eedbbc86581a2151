import { fromBase64 } from "../base64.ts";
import { concatBytes } from "../bytes.ts";
import { domainOf, normaliseAddress } from "../directory/address.ts";
import type { Mailbox } from "./addresses.ts";
import { invalid } from "./errors.ts";
import { checkExtraHeaders, mailboxes, type RelayJsonMessage } from "./json-message.ts";
import { base64Lines, encodeWords, foldHeader, formatMailbox, mimeParameter, newBoundary, newMessageId, quotedPrintable, rfc5322Date } from "./mime.ts";

/** A message ready to sign and send, with what the relay needs to know about it. */
export interface ComposedMessage {
  /** The message, CRLF line ends, without Bcc. */
  raw: Uint8Array;
  from: Mailbox;
  sender: Mailbox | null;
  /** Every recipient (To, Cc, Bcc), each once, in order. */
  recipients: string[];
  messageId: string;
}

const encoder = new TextEncoder();

/** One MIME entity: its header fields (already folded) and its body. */
interface Part {
  headers: string;
  body: Uint8Array;
}

const textPart = (subtype: "plain" | "html", text: string): Part => ({
  headers: `Content-Type: text/${subtype}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n`,
  body: encoder.encode(quotedPrintable(text)),
});

function multipart(subtype: "mixed" | "alternative" | "related", parts: Part[]): Part {
  const boundary = newBoundary();
  const chunks: Uint8Array[] = [];
  for (const part of parts) chunks.push(encoder.encode(`--${boundary}\r\n${part.headers}\r\n`), part.body, encoder.encode("\r\n"));
  chunks.push(encoder.encode(`--${boundary}--`));
  return { headers: `Content-Type: multipart/${subtype};\r\n boundary="${boundary}"\r\n`, body: concatBytes(chunks) };
}

function attachmentPart(a: NonNullable<RelayJsonMessage["attachments"]>[number]): Part {
  const contentType = (a.contentType ?? "application/octet-stream").toLowerCase();
  const disposition = a.disposition ?? (a.contentId === undefined ? "attachment" : "inline");
  let headers = `Content-Type: ${contentType};\r\n ${mimeParameter("name", a.filename)}\r\n`;
  headers += `Content-Disposition: ${disposition};\r\n ${mimeParameter("filename", a.filename)}\r\n`;
  headers += "Content-Transfer-Encoding: base64\r\n";
  if (a.contentId !== undefined) headers += `Content-ID: <${a.contentId.replace(/^<|>$/g, "")}>\r\n`;
  return { headers, body: encoder.encode(base64Lines(fromBase64(a.content))) };
}

/** The body: text and/or HTML (alternatives), inline parts related to the HTML, attachments mixed in. */
function bodyOf(message: RelayJsonMessage): Part {
  const texts: Part[] = [];
  if (message.text !== undefined || message.html === undefined) texts.push(textPart("plain", message.text ?? ""));
  if (message.html !== undefined) texts.push(textPart("html", message.html));
  let body = texts.length === 1 ? texts[0]! : multipart("alternative", texts);
  const attachments = message.attachments ?? [];
  const inline = message.html === undefined ? [] : attachments.filter((a) => a.contentId !== undefined && a.disposition !== "attachment");
  const others = attachments.filter((a) => !inline.includes(a));
  if (inline.length > 0) body = multipart("related", [body, ...inline.map(attachmentPart)]);
  if (others.length > 0) body = multipart("mixed", [body, ...others.map(attachmentPart)]);
  return body;
}

/**
 * Builds the message of a JSON submission: RFC 5322 header (From, Sender, To, Cc, Reply-To,
 * Subject, Date, Message-ID, MIME-Version, the extra headers) and a MIME body, UTF-8 throughout
 * (encoded words in headers, quoted-printable text, base64 attachments). Bcc recipients are
 * returned, never written. Message-ID and Date are made unless `headers` gives them.
 *
 * @example
 * const { raw, recipients, messageId } = composeMessage(parseJsonMessage(body), new Date());
 */
export function composeMessage(message: RelayJsonMessage & { fromMailbox: Mailbox; senderMailbox: Mailbox | null }, now: Date): ComposedMessage {
  const to = mailboxes(message.to, "to");
  const cc = mailboxes(message.cc, "cc");
  const bcc = mailboxes(message.bcc, "bcc");
  const replyTo = mailboxes(message.replyTo, "replyTo");
  const extra = checkExtraHeaders(message.headers);
  const recipients: string[] = [];
  const seen = new Set<string>();
  for (const m of [...to, ...cc, ...bcc]) {
    const key = normaliseAddress(m.address)!;
    if (!seen.has(key)) {
      seen.add(key);
      recipients.push(m.address);
    }
  }
  if (recipients.length === 0) throw invalid("no_recipients", "the message needs at least one recipient in to, cc or bcc");

  const given = new Map(extra.map(([name, value]) => [name.toLowerCase(), value]));
  const messageId = given.get("message-id") ?? newMessageId(domainOf(normaliseAddress(message.fromMailbox.address)!));
  let head = foldHeader("From", formatMailbox(message.fromMailbox));
  if (message.senderMailbox !== null) head += foldHeader("Sender", formatMailbox(message.senderMailbox));
  if (to.length > 0) head += foldHeader("To", to.map(formatMailbox).join(", "));
  if (cc.length > 0) head += foldHeader("Cc", cc.map(formatMailbox).join(", "));
  if (replyTo.length > 0) head += foldHeader("Reply-To", replyTo.map(formatMailbox).join(", "));
  if (message.subject !== undefined) head += foldHeader("Subject", encodeWords(message.subject));
  if (!given.has("date")) head += foldHeader("Date", rfc5322Date(now));
  if (!given.has("message-id")) head += foldHeader("Message-ID", messageId);
  head += "MIME-Version: 1.0\r\n";
  for (const [name, value] of extra) head += foldHeader(name, encodeWords(value));

  const body = bodyOf(message);
  return {
    raw: concatBytes([encoder.encode(`${head}${body.headers}\r\n`), body.body, encoder.encode("\r\n")]),
    from: message.fromMailbox,
    sender: message.senderMailbox,
    recipients,
    messageId,
  };
}
