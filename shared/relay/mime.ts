import { toBase64 } from "../base64.ts";

/**
 * The encodings a message built by the relay needs (RFC 2045, 2047, 2231, 5322). Every function
 * here takes values already checked to hold no CR or LF (see json-message.ts): the only line
 * breaks in a header are the ones folding puts there.
 */

const encoder = new TextEncoder();

/** Printable ASCII and space: what a header may carry without encoding. */
const PRINTABLE = /^[\x20-\x7e]*$/;

/** A line a header may be folded into (RFC 5322 §2.1.1 "SHOULD be no more than 78 characters"). */
const FOLD_AT = 78;

/**
 * RFC 2047 encoded words (UTF-8, base64) for text that is not printable ASCII; ASCII text as is.
 * Each word stays within 75 characters and never splits a UTF-8 sequence, so folding may break
 * between words.
 *
 * @example
 * encodeWords("Grüße") // "=?UTF-8?B?R3LDvMOfZQ==?="
 */
export function encodeWords(text: string): string {
  if (PRINTABLE.test(text)) return text;
  const words: string[] = [];
  let chunk = "";
  for (const char of text) {
    // 45 bytes of UTF-8 → 60 characters of base64, + 12 for "=?UTF-8?B?" "?=" = 72.
    if (encoder.encode(chunk + char).length > 45) {
      words.push(chunk);
      chunk = "";
    }
    chunk += char;
  }
  if (chunk !== "") words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${toBase64(encoder.encode(w))}?=`).join(" ");
}

/** RFC 5322 atext and the space between words: a display name that needs no quoting. */
const PHRASE = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/;

/** A mailbox as written in a header: `app@example.com`, `Reports <app@example.com>`, `"Doe, Jane" <jane@example.com>`. */
export function formatMailbox(mailbox: { name?: string | undefined; address: string }): string {
  const name = (mailbox.name ?? "").trim();
  if (name === "") return mailbox.address;
  let phrase: string;
  if (!PRINTABLE.test(name)) phrase = encodeWords(name);
  else if (PHRASE.test(name)) phrase = name;
  else phrase = `"${name.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  return `${phrase} <${mailbox.address}>`;
}

/**
 * One header field, folded at white space so that lines stay near 78 characters (a word longer
 * than that keeps its own line). Folding only inserts CRLF before existing white space, so
 * unfolding gives the value back unchanged.
 *
 * @example
 * foldHeader("Subject", "Hello") // "Subject: Hello\r\n"
 */
export function foldHeader(name: string, value: string): string {
  const words = value.split(" ");
  const lines: string[] = [];
  let line = `${name}:`;
  for (const word of words) {
    const piece = ` ${word}`;
    if (line.length + piece.length > FOLD_AT && line.trim() !== `${name}:`) {
      lines.push(line);
      line = piece;
    } else line += piece;
  }
  lines.push(line);
  return `${lines.join("\r\n")}\r\n`;
}

/** Base64 body lines of 76 characters (RFC 2045 §6.8), joined by CRLF; the line break after the last belongs to what follows. */
export function base64Lines(bytes: Uint8Array): string {
  const text = toBase64(bytes);
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return lines.join("\r\n");
}

/**
 * Quoted-printable (RFC 2045 §6.7) of UTF-8 text: readable where the text is ASCII, any line
 * ending becomes CRLF, lines stay within 76 characters with soft breaks, white space before a
 * line end is encoded (it would be lost in transit), and so is a dot opening a line (an SMTP hop
 * without transparency would eat it).
 */
export function quotedPrintable(text: string): string {
  const out: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    let encoded = "";
    let current = "";
    const bytes = encoder.encode(line);
    for (const [i, b] of bytes.entries()) {
      const last = i === bytes.length - 1;
      let piece: string;
      if ((b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last)) piece = String.fromCharCode(b);
      else piece = `=${b.toString(16).toUpperCase().padStart(2, "0")}`;
      if (b === 46 && current === "") piece = "=2E";
      // 75 leaves room for the "=" of a soft line break.
      if (current.length + piece.length > 75) {
        encoded += `${current}=\r\n`;
        current = piece === "." ? "=2E" : piece;
      } else current += piece;
    }
    out.push(encoded + current);
  }
  // No line break after the last line: a multipart boundary's own CRLF follows it (RFC 2046 §5.1.1).
  return out.join("\r\n");
}

/** A MIME parameter (RFC 2045 quoted-string, or RFC 2231 `name*=utf-8''…` for text beyond ASCII). */
export function mimeParameter(name: string, value: string): string {
  if (PRINTABLE.test(value)) return `${name}="${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const encoded = Array.from(encoder.encode(value), (b) =>
    /[A-Za-z0-9!#$&+\-.^_`|~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`,
  ).join("");
  return `${name}*=utf-8''${encoded}`;
}

/**
 * A boundary no encoded content can contain: quoted-printable writes "=" only as "=XX" and never
 * "=_", and base64 has neither "_" nor "=" inside a line.
 */
export function newBoundary(): string {
  const hex = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  return `=_portcullis_${hex}`;
}

/** The Date header value for an instant (RFC 5322 §3.3), in UTC: `Sat, 21 Nov 2026 09:00:00 +0000`. */
export function rfc5322Date(at: Date): string {
  return at.toUTCString().replace(/GMT$/, "+0000");
}

/** A fresh Message-ID at `domain`: `<uuid@domain>`. */
export function newMessageId(domain: string): string {
  return `<${crypto.randomUUID()}@${domain}>`;
}
