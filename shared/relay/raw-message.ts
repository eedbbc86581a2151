import { addressParser, decodeWords } from "postal-mime";
import { concatBytes } from "../bytes.ts";
import { domainOf, normaliseAddress } from "../directory/address.ts";
import { MAX_HEADER_FIELDS, MAX_HEADERS_BYTES } from "../limits.ts";
import { checkAddress, type Mailbox } from "./addresses.ts";
import { invalid } from "./errors.ts";
import { foldHeader, newMessageId, rfc5322Date } from "./mime.ts";

/**
 * A raw RFC 5322 submission (`Content-Type: message/rfc822`), made ready to sign and send: line
 * ends made CRLF, the header block checked field by field, Bcc taken out, Message-ID and Date
 * added when missing.
 */

/** One header field: its name as written and its raw bytes (with the CRLF and any folded lines). */
interface Field {
  name: string;
  lower: string;
  /** The value unfolded, as text (8-bit bytes as Latin-1, so nothing is lost). */
  value: string;
  start: number;
  end: number;
}

export interface RawSubmission {
  /** The message to sign and send. */
  raw: Uint8Array;
  from: Mailbox;
  sender: Mailbox | null;
  /** To, Cc and Bcc recipients, each once, in order. */
  recipients: string[];
  messageId: string;
  /** What the relay added. */
  added: { messageId: boolean; date: boolean; bccRemoved: boolean };
}

const CR = 0x0d;
const LF = 0x0a;

/** Every line end as CRLF: a lone LF (a file saved on Unix) or a lone CR becomes CRLF, so signatures and hops see one form. */
export function crlfLineEnds(raw: Uint8Array): Uint8Array {
  let lone = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === LF && (i === 0 || raw[i - 1] !== CR)) lone++;
    else if (raw[i] === CR && raw[i + 1] !== LF) lone++;
  }
  if (lone === 0) return raw;
  const out = new Uint8Array(raw.length + lone);
  let o = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === LF && (i === 0 || raw[i - 1] !== CR)) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (b === CR && raw[i + 1] !== LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else out[o++] = b;
  }
  return out;
}

/** Where the header block ends: the index just past its last field's CRLF (the empty line follows), or the whole message. */
function headerEnd(raw: Uint8Array): number {
  if (raw[0] === CR && raw[1] === LF) return 0;
  for (let i = 0; i + 3 < raw.length; i++) {
    if (raw[i] === CR && raw[i + 1] === LF && raw[i + 2] === CR && raw[i + 3] === LF) return i + 2;
  }
  return raw.length;
}

const latin1 = new TextDecoder("latin1");

/** The header fields of a CRLF message, checked: every line is a field or a continuation, names are printable, no NUL. */
function headerFields(raw: Uint8Array, end: number): Field[] {
  if (end > MAX_HEADERS_BYTES) throw invalid("invalid_message", `the header block is larger than ${MAX_HEADERS_BYTES} bytes`);
  const text = latin1.decode(raw.subarray(0, end));
  if (text.includes("\0")) throw invalid("invalid_message", "the header block contains a NUL byte");
  const fields: Field[] = [];
  let offset = 0;
  for (const line of text.split(/(?<=\r\n)/)) {
    if (line === "") continue;
    if (line === "\r\n" || !line.endsWith("\r\n")) throw invalid("invalid_message", "the header block is malformed (a line without a field)");
    if (line.startsWith(" ") || line.startsWith("\t")) {
      const last = fields.at(-1);
      if (last === undefined) throw invalid("invalid_message", "the message starts with a continuation line");
      last.value += line.slice(0, -2);
      last.end = offset + line.length;
    } else {
      const m = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/.exec(line);
      if (m === null) throw invalid("invalid_message", `the header block is malformed near "${line.slice(0, 40).replace(/[^\x20-\x7e]/g, "?")}"`);
      fields.push({ name: m[1]!, lower: m[1]!.toLowerCase(), value: line.slice(m[0].length, -2), start: offset, end: offset + line.length });
      if (fields.length > MAX_HEADER_FIELDS) throw invalid("invalid_message", `the message has more than ${MAX_HEADER_FIELDS} header fields`);
    }
    offset += line.length;
  }
  return fields;
}

/** The mailboxes of an address field (groups flattened); an entry that is not a usable address is refused (`strict`: as a bad From or Sender). */
function addressesOf(field: Field, strict: boolean): Mailbox[] {
  const utf8 = new TextDecoder().decode(Uint8Array.from(field.value, (c) => c.charCodeAt(0)));
  const out: Mailbox[] = [];
  for (const entry of addressParser(utf8, { flatten: true })) {
    // A group without members (undisclosed-recipients:;) flattens to nothing; a name without an address is an error.
    const address = "address" in entry && typeof entry.address === "string" ? entry.address : "";
    const checked = checkAddress(address);
    if (checked === null)
      throw invalid(strict ? "invalid_message" : "invalid_recipient", `${field.name}: "${address.slice(0, 100)}" is not a usable email address`);
    out.push(entry.name ? { name: decodeWords(entry.name), address: checked } : { address: checked });
  }
  return out;
}

function single(fields: Field[], lower: string, name: string): Field | null {
  const found = fields.filter((f) => f.lower === lower);
  // RFC 5322 §3.6: From and Sender occur once; two From fields let a message show one author and be checked as another.
  if (found.length > 1) throw invalid("invalid_message", `the message has ${found.length} ${name} fields; one is allowed`);
  return found[0] ?? null;
}

/**
 * Prepares a raw submission. `to` overrides the recipients (the SMTP envelope); without it they
 * are the To, Cc and Bcc addresses of the header.
 *
 * @example
 * const prepared = prepareRawMessage(bytes, new Date());
 * prepared.recipients // ["alice@example.com"]
 */
export function prepareRawMessage(input: Uint8Array, now: Date, to?: readonly string[]): RawSubmission {
  const raw = crlfLineEnds(input);
  const end = headerEnd(raw);
  const fields = headerFields(raw, end);
  const fromField = single(fields, "from", "From");
  if (fromField === null) throw invalid("invalid_message", "the message has no From field");
  const fromList = addressesOf(fromField, true);
  if (fromList.length !== 1) throw invalid("invalid_message", "From must name exactly one mailbox");
  const senderField = single(fields, "sender", "Sender");
  const senderList = senderField === null ? [] : addressesOf(senderField, true);
  if (senderField !== null && senderList.length !== 1) throw invalid("invalid_message", "Sender must name exactly one mailbox");
  single(fields, "message-id", "Message-ID");
  single(fields, "date", "Date");

  let recipients: string[];
  if (to !== undefined && to.length > 0) {
    recipients = to.map((address) => {
      const checked = checkAddress(address.trim());
      if (checked === null) throw invalid("invalid_recipient", `to: "${address.slice(0, 100)}" is not a usable email address`);
      return checked;
    });
  } else {
    recipients = fields.filter((f) => f.lower === "to" || f.lower === "cc" || f.lower === "bcc").flatMap((f) => addressesOf(f, false).map((m) => m.address));
  }
  const seen = new Set<string>();
  recipients = recipients.filter((address) => {
    const key = normaliseAddress(address)!;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (recipients.length === 0) throw invalid("no_recipients", "the message names no recipient (To, Cc, Bcc or the to parameter)");

  const from = fromList[0]!;
  const idField = fields.find((f) => f.lower === "message-id");
  const messageId = idField === undefined ? newMessageId(domainOf(normaliseAddress(from.address)!)) : idField.value.trim();
  const hasDate = fields.some((f) => f.lower === "date");

  // Bcc never travels with the message (RFC 5322 §3.6.3): its recipients are in the envelope only.
  const bcc = fields.filter((f) => f.lower === "bcc");
  const kept: Uint8Array[] = [];
  let at = 0;
  for (const field of bcc) {
    kept.push(raw.subarray(at, field.start));
    at = field.end;
  }
  kept.push(raw.subarray(at));
  const added = (idField === undefined ? foldHeader("Message-ID", messageId) : "") + (hasDate ? "" : foldHeader("Date", rfc5322Date(now)));
  const parts = added === "" ? kept : [new TextEncoder().encode(added), ...kept];
  return {
    raw: parts.length === 1 && bcc.length === 0 ? raw : concatBytes(parts),
    from,
    sender: senderList[0] ?? null,
    recipients,
    messageId,
    added: { messageId: idField === undefined, date: !hasDate, bccRemoved: bcc.length > 0 },
  };
}
