import { decodeWords } from "postal-mime";
import { toBase64 } from "../base64.ts";

/**
 * Delivery status notifications (RFC 3464) for mail the edge spooled because no hub would take it:
 * a "delayed" notice once it has waited long enough, a "failed" one when it expires. Pure: the
 * caller decides when, checks {@link mayNotifySender} first, and sends the bytes with a null
 * envelope sender (MAIL FROM:<>) where the transport allows, so nothing can bounce back to us.
 */

/** Longest diagnostic text kept (characters). The last error is ours, but may quote a hub's answer at length. */
export const MAX_DIAGNOSTIC_CHARS = 500;
/** Longest original subject repeated in ours (characters); a multi-kilobyte subject must not make ours unwieldy. */
export const MAX_SUBJECT_CHARS = 200;
/**
 * Most bytes of the original header block attached as text/rfc822-headers. Enough for a long
 * Received chain; the block can be up to MAX_HEADERS_BYTES and the sender may be a forger, so the
 * notification must not become a way to reflect a megabyte at someone.
 */
export const MAX_ORIGINAL_HEADER_BYTES = 32 * 1024;
/** Most recipients named in one notification; the rest are counted in the text. Keeps the report bounded. */
export const MAX_DSN_RECIPIENTS = 100;
/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, brackets included. */
const MAX_ADDRESS_CHARS = 254;
/** Longest recipient as written into the report, after escaping (RFC 6533 escapes take up to 10 characters each). */
const MAX_RENDERED_RECIPIENT_CHARS = 400;
/** RFC 3461 §4.4: an ENVID is at most 100 characters. */
const MAX_ENVELOPE_ID_CHARS = 100;
/** Longest Message-ID we echo back in In-Reply-To/References; anything longer is not a real one. */
const MAX_MESSAGE_ID_CHARS = 250;
/** RFC 5322 §2.1.1: lines SHOULD be at most 78 characters (we fold there) and MUST be at most 998. */
const FOLD_AT = 78;
/** RFC 2045 §6.7: quoted-printable lines are at most 76 characters. */
const QP_LINE = 76;
/** UTF-8 bytes per RFC 2047 "B" word: 45 bytes are 60 base64 characters, 72 with "=?UTF-8?B?…?=" (≤ 75). */
const ENCODED_WORD_BYTES = 45;

/** A caller bug: an input the notification cannot be built from (bad date, host name or sender). */
export class DsnError extends Error {
  override name = "DsnError";
}

export interface DsnInput {
  kind: "delayed" | "failed";
  /** This edge's host name: `Reporting-MTA: dns; <host>`. */
  reportingMta: string;
  /** Our postmaster address, shown as `From: Mail Delivery System <from>`. */
  from: string;
  /** The original envelope sender: the notification's recipient. Check {@link mayNotifySender} first. */
  envelopeFrom: string;
  /** The original envelope recipients this notification is about. */
  recipients: string[];
  /** The original header block (text before the first blank line); attached, capped, never the body. */
  originalHeaders: string;
  originalMessageId: string | null;
  arrivalDate: Date;
  lastAttemptDate: Date;
  /** For "delayed": until when the spool keeps trying. */
  willRetryUntil?: Date;
  /** The last error, plain text; it is shown to the sender, so it should not name internal hosts. */
  diagnostic: string;
  /** Our delivery id, as `Original-Envelope-Id`. */
  envelopeId?: string;
  now: Date;
  /** Domain for the notification's own Message-ID. */
  messageIdDomain: string;
}

/** Why a sender gets no notification. */
export type NotifyRefusal = "null_sender" | "invalid_sender" | "mailer_daemon" | "report" | "auto_submitted" | "precedence";

const HOST = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;

/** The address without surrounding space and one pair of angle brackets ("<a@b>" → "a@b", "<>" → ""). */
function bareAddress(address: string): string {
  const trimmed = address.trim();
  return trimmed.startsWith("<") && trimmed.endsWith(">") ? trimmed.slice(1, -1).trim() : trimmed;
}

/**
 * A plain ASCII addr-spec that is safe in a header: dot-atom local part, host-name domain. Quoted
 * local parts, address literals and internationalised addresses (which would need RFC 6533's
 * message/global-delivery-status) are refused rather than escaped.
 */
function isSafeAddress(address: string): boolean {
  const at = address.lastIndexOf("@");
  return address.length <= MAX_ADDRESS_CHARS && at > 0 && LOCAL_PART.test(address.slice(0, at)) && HOST.test(address.slice(at + 1));
}

/**
 * Whether the envelope sender of an undelivered message may be sent a delay or failure notice.
 * Only the header block counts (it stops at the first blank line). Refuses:
 * - the null sender (RFC 5321 §4.5.5, RFC 3461 §6.2: never notify about a notification), and
 *   a sender that is not a plain ASCII addr-spec (it could not be written into a header safely);
 * - MAILER-DAEMON, the name MTAs send their own notices as; nobody reads it;
 * - any multipart/report (bounces, MDNs, feedback reports): machine output about another message;
 * - `Auto-Submitted` other than `no`. RFC 3834 leaves DSNs out of its scope, so this is stricter
 *   than it asks: an automatic sender loses our notice, but no two automatons can talk in a loop;
 * - `Precedence: bulk|list|junk`: a notice to a forged bulk sender is backscatter, and a list's
 *   bounce processor would count our own outage against our recipient and unsubscribe them.
 * Notified on purpose: postmaster (RFC 5321 §4.5.1: a mailbox people read; a misconfigured
 * bouncer using it is caught by the report and Auto-Submitted checks), and owner-, -request and
 * -bounces addresses, because list bounce processing (VERP) is what they are for.
 *
 * @example
 * const check = mayNotifySender(spooled.envelope.from, headerBlock);
 * if (check.ok) await send(buildDsn({ ...input, kind: "failed" }).raw);
 * else log({ dsn: "suppressed", reason: check.reason });
 */
export function mayNotifySender(envelopeFrom: string, originalHeaders: string): { ok: true } | { ok: false; reason: NotifyRefusal; detail: string } {
  const sender = bareAddress(envelopeFrom);
  if (sender === "") return { ok: false, reason: "null_sender", detail: "the message has a null envelope sender" };
  if (!isSafeAddress(sender)) return { ok: false, reason: "invalid_sender", detail: "the envelope sender is not a plain ASCII address" };
  if (sender.slice(0, sender.lastIndexOf("@")).toLowerCase() === "mailer-daemon") {
    return { ok: false, reason: "mailer_daemon", detail: "the envelope sender is a MAILER-DAEMON" };
  }
  for (const { name, value } of headerFields(originalHeaders)) {
    const token = firstToken(value);
    if (name === "content-type" && token === "multipart/report") {
      return { ok: false, reason: "report", detail: "the message is itself a report (multipart/report)" };
    }
    if (name === "auto-submitted" && token !== "no") {
      return { ok: false, reason: "auto_submitted", detail: "the message is marked Auto-Submitted" };
    }
    if (name === "precedence" && (token === "bulk" || token === "list" || token === "junk")) {
      return { ok: false, reason: "precedence", detail: `the message has Precedence: ${token}` };
    }
  }
  return { ok: true };
}

/**
 * Builds the notification: multipart/report; report-type=delivery-status with a human text, the
 * RFC 3464 delivery-status part (Status 4.4.1 while delayed, 5.4.7 once expired) and the original
 * headers as text/rfc822-headers. All 7-bit, CRLF, folded at 78 characters. Returns the
 * Message-ID with its angle brackets. Throws {@link DsnError} for inputs a caller must validate
 * (dates, host names, the sender and our From address).
 *
 * @example
 * const { raw, messageId } = buildDsn({
 *   kind: "delayed", reportingMta: "mx.example.com", from: "postmaster@example.com",
 *   envelopeFrom: "alice@example.org", recipients: ["bob@example.com"], originalHeaders,
 *   originalMessageId: "<a1@example.org>", arrivalDate, lastAttemptDate: now,
 *   willRetryUntil, diagnostic: "no hub reachable", envelopeId: deliveryId, now,
 *   messageIdDomain: "example.com",
 * });
 */
export function buildDsn(input: DsnInput): { raw: Uint8Array; messageId: string } {
  const from = bareAddress(input.from);
  const to = bareAddress(input.envelopeFrom);
  if (!isSafeAddress(from)) throw new DsnError("the From address is not a plain ASCII address");
  if (!isSafeAddress(to)) throw new DsnError("the envelope sender cannot receive a notification (see mayNotifySender)");
  if (!HOST.test(input.reportingMta)) throw new DsnError("reportingMta is not a host name");
  if (!HOST.test(input.messageIdDomain)) throw new DsnError("messageIdDomain is not a host name");
  if (input.recipients.length === 0 || input.recipients.some((r) => bareAddress(r) === "")) throw new DsnError("a notification needs its recipients");
  const delayed = input.kind === "delayed";
  const arrival = rfc5322Date(input.arrivalDate);
  const lastAttempt = rfc5322Date(input.lastAttemptDate);
  const retryUntil = delayed && input.willRetryUntil !== undefined ? rfc5322Date(input.willRetryUntil) : null;
  const envelopeId = input.envelopeId === undefined ? null : xtext(input.envelopeId);
  if (envelopeId !== null && envelopeId.length > MAX_ENVELOPE_ID_CHARS) throw new DsnError(`envelopeId is over ${MAX_ENVELOPE_ID_CHARS} characters`);

  const recipients = input.recipients.slice(0, MAX_DSN_RECIPIENTS).map(renderRecipient);
  const omitted = input.recipients.length - recipients.length;
  const diagnostic = sanitiseDiagnostic(input.diagnostic);
  const originalId = messageIdOrNull(input.originalMessageId);
  const attached = attachHeaders(input.originalHeaders);
  const messageId = `<${crypto.randomUUID()}@${input.messageIdDomain}>`;

  const when = retryUntil === null ? "The mail system will keep trying for a while." : `The mail system will keep trying until ${retryUntil}.`;
  const text = [
    `This is the mail system at ${input.reportingMta}.`,
    "",
    ...(delayed
      ? wrap(`Your message has not been delivered yet to the recipients below. ${when} You do not need to send it again; you will be told if it finally fails.`)
      : wrap(
          `Your message could not be delivered to the recipients below. The mail system kept trying from ${arrival} to ${lastAttempt} and has given up. Send the message again if it is still needed.`,
        )),
    "",
    ...recipients.map((r) => `    ${r.address}`),
    ...(omitted > 0 ? [`    ... and ${omitted} more`] : []),
    "",
    `Arrived:        ${arrival}`,
    `Last attempt:   ${lastAttempt}`,
    ...(retryUntil === null ? [] : [`Retrying until: ${retryUntil}`]),
    ...(originalId === null ? [] : [`Message-ID:     ${originalId}`]),
    ...wrap(`Last error:     ${diagnostic}`),
    "",
    attached.truncated ? `The first ${MAX_ORIGINAL_HEADER_BYTES} bytes of your message's headers are attached.` : "Your message's headers are attached.",
  ];

  // The "smtp" diagnostic type carries an SMTP reply. Ours was not one (the hubs speak HTTPS), so
  // it gets the reply that matches the Status: 4.4.1 "no answer from host", 5.4.7 "delivery time expired".
  const status = delayed ? { code: "4.4.1", reply: "451" } : { code: "5.4.7", reply: "554" };
  const report = [
    [`Reporting-MTA: dns; ${input.reportingMta}`, ...(envelopeId === null ? [] : [`Original-Envelope-Id: ${envelopeId}`]), `Arrival-Date: ${arrival}`],
    ...recipients.map((r) => [
      `Final-Recipient: ${r.type}; ${r.address}`,
      `Action: ${input.kind}`,
      `Status: ${status.code}`,
      fold(`Diagnostic-Code: smtp; ${status.reply} ${status.code} ${diagnostic}`),
      `Last-Attempt-Date: ${lastAttempt}`,
      ...(retryUntil === null ? [] : [`Will-Retry-Until: ${retryUntil}`]),
    ]),
  ];

  const parts = [
    {
      headers: ["Content-Type: text/plain; charset=us-ascii", "Content-Description: Notification", "Content-Transfer-Encoding: 7bit"],
      body: text.join("\r\n"),
    },
    {
      headers: ["Content-Type: message/delivery-status", "Content-Description: Delivery report", "Content-Transfer-Encoding: 7bit"],
      body: report.map((block) => block.join("\r\n")).join("\r\n\r\n"),
    },
    {
      headers: [
        `Content-Type: text/rfc822-headers; charset=${attached.encoding === "7bit" ? "us-ascii" : "utf-8"}`,
        "Content-Description: Undelivered message headers",
        `Content-Transfer-Encoding: ${attached.encoding}`,
      ],
      body: attached.body,
    },
  ];
  const content = parts.map((p) => `${p.headers.join("\r\n")}\r\n\r\n${p.body}\r\n`);
  // The attached headers are the sender's text: pick a boundary none of the parts contains.
  let boundary = `=_dsn_${crypto.randomUUID()}`;
  while (content.some((c) => c.includes(boundary))) boundary = `=_dsn_${crypto.randomUUID()}`;

  const subject = originalSubject(input.originalHeaders);
  const headers = [
    `Date: ${rfc5322Date(input.now)}`,
    `From: Mail Delivery System <${from}>`,
    `To: ${to}`,
    subjectField(delayed ? "Delivery delayed" : "Undeliverable", subject),
    `Message-ID: ${messageId}`,
    ...(originalId === null ? [] : [`In-Reply-To: ${originalId}`, `References: ${originalId}`]),
    // RFC 3834 §5: an automatic message; responders and our own mayNotifySender leave it alone.
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status;\r\n boundary="${boundary}"`,
    "Content-Transfer-Encoding: 7bit",
  ];
  const raw = [
    ...headers,
    "",
    "This is a delivery status notification in MIME format.",
    "",
    ...content.map((c) => `--${boundary}\r\n${c}`),
    `--${boundary}--`,
    "",
  ].join("\r\n");
  return { raw: new TextEncoder().encode(raw), messageId };
}

/** The header block's fields, unfolded, names lower-cased. Stops at the first blank line. */
function headerFields(block: string): { name: string; value: string }[] {
  const fields: { name: string; value: string }[] = [];
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line === "") break;
    const last = fields[fields.length - 1];
    if ((line[0] === " " || line[0] === "\t") && last !== undefined) last.value += line;
    else {
      const colon = line.indexOf(":");
      if (colon > 0) fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1) });
    }
  }
  return fields;
}

/** A structured field's leading token, lower-cased, without comments or parameters ("Auto-Generated (x); a=b" → "auto-generated"). */
function firstToken(value: string): string {
  return value
    .replace(/\([^()]*\)/g, " ")
    .split(";")[0]!
    .trim()
    .toLowerCase();
}

/** The original Subject, RFC 2047-decoded, with controls and line breaks turned into spaces, capped; null when absent. */
function originalSubject(headers: string): string | null {
  const field = headerFields(headers).find((f) => f.name === "subject");
  if (field === undefined) return null;
  let decoded: string;
  try {
    decoded = decodeWords(field.value);
  } catch {
    decoded = field.value;
  }
  const clean = oneLine(decoded);
  const chars = Array.from(clean);
  const capped = chars.length > MAX_SUBJECT_CHARS ? `${chars.slice(0, MAX_SUBJECT_CHARS).join("")}...` : clean;
  return capped === "" ? null : capped;
}

/** Text on one line: C0/C1 controls, DEL and Unicode line separators become spaces; runs of space collapse. */
function oneLine(text: string): string {
  return text
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** `Subject: <prefix>: <subject>`, the subject as RFC 2047 UTF-8 "B" words when it is not plain ASCII. */
function subjectField(prefix: string, subject: string | null): string {
  if (subject === null) return `Subject: ${prefix}`;
  // A literal "=?" would be read as the start of an encoded word: encode it too.
  if (/^[\x20-\x7e]*$/.test(subject) && !subject.includes("=?")) return fold(`Subject: ${prefix}: ${subject}`);
  const words: string[] = [];
  const encoder = new TextEncoder();
  let chunk = "";
  for (const char of subject) {
    if (encoder.encode(chunk + char).byteLength > ENCODED_WORD_BYTES) {
      words.push(chunk);
      chunk = "";
    }
    chunk += char;
  }
  words.push(chunk);
  // Whitespace between adjacent encoded words is dropped when decoding, so folding between them is safe.
  return fold(`Subject: ${prefix}: ${words.map((w) => `=?UTF-8?B?${toBase64(encoder.encode(w))}?=`).join(" ")}`);
}

/** The diagnostic as one line of printable ASCII (anything else becomes "?"), capped. */
function sanitiseDiagnostic(text: string): string {
  const clean = oneLine(text).replace(/[^\x20-\x7e]/gu, "?");
  if (clean === "") return "no further detail";
  return clean.length > MAX_DIAGNOSTIC_CHARS ? `${clean.slice(0, MAX_DIAGNOSTIC_CHARS)}...` : clean;
}

/**
 * A recipient for the report and the text. Plain addresses are `rfc822`; anything else (an
 * internationalised address, or one with controls that must not reach a header) is the `utf-8`
 * type of RFC 6533 §3 with every character outside "!".."~", and "\", written as \x{HEX}.
 */
function renderRecipient(recipient: string): { type: "rfc822" | "utf-8"; address: string } {
  const address = bareAddress(recipient);
  if (/^[\x21-\x5b\x5d-\x7e]+$/.test(address) && address.length <= MAX_ADDRESS_CHARS) return { type: "rfc822", address };
  let out = "";
  for (const char of address) {
    const piece = /^[\x21-\x5b\x5d-\x7e]$/.test(char) ? char : `\\x{${char.codePointAt(0)!.toString(16).toUpperCase()}}`;
    if (out.length + piece.length > MAX_RENDERED_RECIPIENT_CHARS) break;
    out += piece;
  }
  return { type: "utf-8", address: out };
}

/** RFC 3461 §4 xtext: "+", "=" and anything outside "!".."~" as +HEX of its UTF-8 bytes. */
function xtext(value: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(value)) {
    out += byte > 0x20 && byte < 0x7f && byte !== 0x2b && byte !== 0x3d ? String.fromCharCode(byte) : `+${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** A msg-id we can echo in a header, with its brackets, or null. */
function messageIdOrNull(id: string | null): string | null {
  if (id === null) return null;
  const bare = id.trim().replace(/^<(.*)>$/, "$1");
  return bare.length <= MAX_MESSAGE_ID_CHARS && /^[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+$/.test(bare) ? `<${bare}>` : null;
}

/**
 * The original header block for text/rfc822-headers: CRLF, cut after the last whole line under
 * the cap. Plain ASCII with short lines goes as 7bit; anything else (UTF-8 headers, stray
 * controls, lines over 998 octets) as quoted-printable, so our message stays 7-bit and in spec.
 */
function attachHeaders(block: string): { body: string; encoding: "7bit" | "quoted-printable"; truncated: boolean } {
  const lines: string[] = [];
  let bytes = 0;
  let truncated = false;
  const encoder = new TextEncoder();
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line === "") break;
    bytes += encoder.encode(line).byteLength + 2;
    if (bytes > MAX_ORIGINAL_HEADER_BYTES) {
      truncated = true;
      break;
    }
    lines.push(line);
  }
  if (lines.every((l) => l.length <= 998 && /^[\t\x20-\x7e]*$/.test(l))) return { body: lines.join("\r\n"), encoding: "7bit", truncated };
  return { body: lines.map(quotedPrintableLine).join("\r\n"), encoding: "quoted-printable", truncated };
}

/** One line as quoted-printable (RFC 2045 §6.7) of its UTF-8 bytes, with soft breaks at 76 characters. */
function quotedPrintableLine(line: string): string {
  const bytes = new TextEncoder().encode(line);
  const out: string[] = [];
  let current = "";
  bytes.forEach((byte, i) => {
    const last = i === bytes.length - 1;
    const literal = (byte >= 0x21 && byte <= 0x7e && byte !== 0x3d) || ((byte === 0x20 || byte === 0x09) && !last);
    const piece = literal ? String.fromCharCode(byte) : `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    if (current.length + piece.length > QP_LINE - 1) {
      out.push(`${current}=`);
      current = "";
    }
    current += piece;
  });
  out.push(current);
  return out.join("\r\n");
}

/** Words of one line, greedily joined into lines of at most `width` characters (a longer word gets its own line). */
function wrap(text: string, width = 76): string[] {
  const lines: string[] = [];
  let current = "";
  for (const word of text.split(" ")) {
    if (current !== "" && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else current = current === "" ? word : `${current} ${word}`;
  }
  lines.push(current);
  return lines;
}

/** A header field folded at spaces (RFC 5322 §2.2.3): each break becomes CRLF + the space. */
function fold(field: string): string {
  return wrap(field, FOLD_AT).join("\r\n ");
}

/** RFC 5322 §3.3 date-time in UTC: "Tue, 03 Mar 2026 09:05:00 +0000" (toUTCString's form, with a numeric zone for "GMT"). */
function rfc5322Date(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new DsnError("invalid date");
  return date.toUTCString().replace(/GMT$/, "+0000");
}
