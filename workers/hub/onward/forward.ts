import { concatBytes } from "../../../shared/bytes.ts";
import { domainOf } from "../../../shared/directory/address.ts";
import { toHex } from "../../../shared/directory/hash.ts";
import { encodeWords, foldHeader, rfc5322Date } from "../../../shared/relay/mime.ts";
import { FORWARD_SUBJECT_CHARS } from "./limits.ts";

/**
 * A forward route's message. Cloudflare's send_email binding sends only mail whose From is an
 * address of ours (and the local simulator refuses any message with a Received header, which all
 * inbound mail has), so the original cannot be re-sent as it is; it travels attached, byte for byte (as Exchange's journal reports carry the original), in a
 * short message from FORWARD_FROM:
 *
 *   From: <FORWARD_FROM>   To: <route address>   Subject: Fwd: <original subject>
 *   Auto-Submitted: auto-forwarded                X-Portcullis-Delivery-Id: <delivery id>
 *   multipart/mixed: text/plain (who it was for, from whom, which delivery) + message/rfc822 (the message as delivered)
 */
export interface ForwardOptions {
  /** The sender: FORWARD_FROM, normalised. */
  from: string;
  /** The route's address. */
  to: string;
  deliveryId: string;
  envelopeFrom: string;
  recipients: string[];
  subject: string | null;
  hubId: string;
  now: Date;
}

const encoder = new TextEncoder();

/** The Subject header field: "Fwd: " and the original's, cleaned and capped, RFC 2047-encoded when not plain ASCII, folded. */
function subjectField(subject: string): string {
  const clean = [...subject.replace(/[\x00-\x1f\x7f]+/g, " ").trim()].slice(0, FORWARD_SUBJECT_CHARS).join("");
  return foldHeader("Subject", encodeWords(`Fwd: ${clean === "" ? "(no subject)" : clean}`)).slice(0, -2);
}

/**
 * The Content-Transfer-Encoding a message/rfc822 body allows for these bytes (RFC 2046 §5.2.1:
 * only 7bit, 8bit or binary): 7bit for short-lined ASCII, 8bit once other bytes appear, binary for
 * NULs, bare CR/LF or lines over 998 octets.
 */
function identityEncoding(bytes: Uint8Array): "7bit" | "8bit" | "binary" {
  let eightBit = false;
  let line = 0;
  for (let i = 0; i < bytes.byteLength; i++) {
    const b = bytes[i]!;
    if (b === 0x0d) {
      if (bytes[i + 1] !== 0x0a) return "binary";
      i++;
      line = 0;
      continue;
    }
    if (b === 0x0a || b === 0) return "binary";
    if (b >= 0x80) eightBit = true;
    if (++line > 998) return "binary";
  }
  return eightBit ? "8bit" : "7bit";
}

/**
 * The message a forward route sends: a note and the message as delivered, attached unchanged.
 *
 * @example
 * const raw = buildForward({ from: "portcullis@example.com", to: "archive@elsewhere.example", … }, tagged);
 * await env.MAILER.send(new EmailMessage("portcullis@example.com", "archive@elsewhere.example", new Response(raw).body!));
 */
export function buildForward(f: ForwardOptions, original: Uint8Array): Uint8Array {
  const boundary = `portcullis-${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
  // Envelope addresses come from the edge's frame: no control character may break out of a line.
  const line = (text: string): string => text.replace(/[\x00-\x1f\x7f]/g, "?");
  const note = [
    `Portcullis hub ${f.hubId} received the attached message from ${line(f.envelopeFrom) || "<>"} for:`,
    ...f.recipients.map((r) => `  ${line(r)}`),
    "",
    `Delivery ${f.deliveryId}. It is attached as delivered: the received bytes with the X-Portcullis verdict headers on top.`,
  ].join("\r\n");
  const head = [
    `From: ${f.from}`,
    `To: ${f.to}`,
    subjectField(f.subject ?? ""),
    `Date: ${rfc5322Date(f.now)}`,
    `Message-ID: <${f.deliveryId}.${toHex(crypto.getRandomValues(new Uint8Array(4)))}@${domainOf(f.from)}>`,
    "MIME-Version: 1.0",
    // RFC 3834: automatic mail; well-behaved receivers send no auto-replies to it.
    "Auto-Submitted: auto-forwarded",
    `X-Portcullis-Delivery-Id: ${f.deliveryId}`,
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    note,
    `--${boundary}`,
    "Content-Type: message/rfc822",
    'Content-Disposition: attachment; filename="message.eml"',
    `Content-Transfer-Encoding: ${identityEncoding(original)}`,
    "",
    "",
  ].join("\r\n");
  return concatBytes([encoder.encode(head), original, encoder.encode(`\r\n--${boundary}--\r\n`)]);
}
