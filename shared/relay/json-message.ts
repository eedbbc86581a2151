import { z } from "zod";
import { MAX_RECIPIENTS } from "../limits.ts";
import { type Mailbox, parseMailbox } from "./addresses.ts";
import { invalid } from "./errors.ts";
import { MAX_RELAY_ATTACHMENTS, MAX_RELAY_EXTRA_HEADERS, MAX_RELAY_HEADER_VALUE_CHARS } from "./limits.ts";

/**
 * The JSON form of a relay submission (`Content-Type: application/json`):
 *
 *   {
 *     "from": "Reports <reports@example.com>",        or {"name", "address"}
 *     "to": ["alice@example.com"], "cc": [...], "bcc": [...],   a string or a list; at least one recipient
 *     "replyTo": "helpdesk@example.com", "sender": "…",
 *     "subject": "…", "text": "…", "html": "…",
 *     "attachments": [{"filename", "content": base64, "contentType"?, "contentId"?, "disposition"?: "attachment" | "inline"}],
 *     "headers": {"X-Ticket": "4711", "In-Reply-To": "<…>"}
 *   }
 *
 * Header injection is impossible by construction: a CR or LF anywhere but in `text` and `html`
 * refuses the whole request (`header_injection`), before anything is built from it.
 */

const MailboxInput = z.union([z.string(), z.strictObject({ name: z.string().max(256).optional(), address: z.string() })]);
const MailboxListInput = z.union([MailboxInput, z.array(MailboxInput).max(MAX_RECIPIENTS)]);

const Attachment = z.strictObject({
  filename: z.string().min(1).max(255),
  content: z.string().regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, "must be base64 (no line breaks)"),
  contentType: z
    .string()
    .regex(/^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+$/, "must be a type/subtype such as application/pdf")
    .optional(),
  contentId: z
    .string()
    .regex(/^<?[\x21-\x3b\x3d\x3f-\x7e]{1,250}>?$/, "must be a content id such as logo@example.com")
    .optional(),
  disposition: z.enum(["attachment", "inline"]).optional(),
});

export const RelayJsonMessage = z.strictObject({
  from: MailboxInput,
  sender: MailboxInput.optional(),
  replyTo: MailboxListInput.optional(),
  to: MailboxListInput.optional(),
  cc: MailboxListInput.optional(),
  bcc: MailboxListInput.optional(),
  subject: z.string().max(MAX_RELAY_HEADER_VALUE_CHARS).optional(),
  text: z.string().optional(),
  html: z.string().optional(),
  attachments: z.array(Attachment).max(MAX_RELAY_ATTACHMENTS).optional(),
  headers: z
    .record(z.string(), z.string().max(MAX_RELAY_HEADER_VALUE_CHARS))
    .refine((h) => Object.keys(h).length <= MAX_RELAY_EXTRA_HEADERS, `at most ${MAX_RELAY_EXTRA_HEADERS} extra headers`)
    .optional(),
});
export type RelayJsonMessage = z.infer<typeof RelayJsonMessage>;

/** Fields whose values become body text, where line breaks belong. */
const BODY_FIELDS = new Set(["text", "html"]);

/**
 * Refuses CR or LF in every field name and value other than `text` and `html` (`header_injection`),
 * and any other control character in them (`invalid_message`): no value can ever end a header
 * line, start a new field or the body.
 */
export function assertNoHeaderInjection(value: unknown, path: string[] = []): void {
  if (typeof value === "string") {
    if (path.length === 1 && BODY_FIELDS.has(path[0]!)) return;
    const where = path.join(".") || "body";
    if (/[\r\n]/.test(value)) throw invalid("header_injection", `${where}: line breaks (CR or LF) are not allowed here`);
    if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(value)) throw invalid("invalid_message", `${where}: control characters are not allowed`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertNoHeaderInjection(item, [...path, String(i)]));
    return;
  }
  if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      assertNoHeaderInjection(key, [...path, "(name)"]);
      assertNoHeaderInjection(item, [...path, key]);
    }
  }
}

/** Header fields the relay writes itself, or that only a receiving system may add: never taken from `headers`. */
const RESERVED_HEADERS = new Set([
  "from",
  "sender",
  "to",
  "cc",
  "bcc",
  "reply-to",
  "subject",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "content-disposition",
  "content-id",
  "content-description",
  "dkim-signature",
  "arc-seal",
  "arc-message-signature",
  "arc-authentication-results",
  "authentication-results",
  "received",
  "received-spf",
  "return-path",
  "delivered-to",
]);

/** RFC 7230 token characters: a field name every parser reads the same way. */
const FIELD_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,76}$/;

/** The extra header fields, checked: names that are fields of their own, not reserved, and values that fold. */
export function checkExtraHeaders(headers: Record<string, string> | undefined): [string, string][] {
  const out: [string, string][] = [];
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (!FIELD_NAME.test(name)) throw invalid("invalid_message", `headers: "${name.slice(0, 80)}" is not a header field name`);
    if (RESERVED_HEADERS.has(lower) || lower.startsWith("x-portcullis-"))
      throw invalid("invalid_message", `headers: ${name} is set by the relay or from the message's own fields, not from headers`);
    if (seen.has(lower)) throw invalid("invalid_message", `headers: ${name} is given twice`);
    seen.add(lower);
    if (lower === "message-id" && !/^<[^<>\s@]+@[^<>\s@]+>$/.test(value.trim()))
      throw invalid("invalid_message", "headers: Message-ID must look like <id@domain>");
    if (lower === "date" && Number.isNaN(Date.parse(value))) throw invalid("invalid_message", "headers: Date must be a date (RFC 5322)");
    // A word longer than a line cannot be folded (RFC 5322 §2.1.1: at most 998 characters a line).
    if (value.split(" ").some((word) => word.length > 900)) throw invalid("invalid_message", `headers: ${name} has a word too long to fold`);
    out.push([name, value.trim()]);
  }
  return out;
}

function toMailbox(input: z.infer<typeof MailboxInput>, field: string): Mailbox {
  const mailbox =
    typeof input === "string"
      ? parseMailbox(input)
      : (() => {
          const m = parseMailbox(input.address);
          return m === null ? null : { ...(input.name === undefined ? {} : { name: input.name }), address: m.address };
        })();
  if (mailbox === null) throw invalid(field === "from" || field === "sender" ? "invalid_message" : "invalid_recipient", `${field}: not a usable email address`);
  return mailbox;
}

/** A mailbox field as a list of mailboxes. */
export function mailboxes(input: z.infer<typeof MailboxListInput> | undefined, field: string): Mailbox[] {
  if (input === undefined) return [];
  return (Array.isArray(input) ? input : [input]).map((m, i) => toMailbox(m, Array.isArray(input) ? `${field}.${i}` : field));
}

/**
 * Parses and checks a JSON submission: header injection first, then the shape.
 *
 * @example
 * const message = parseJsonMessage(JSON.parse(body)); // throws RelayError (400) when invalid
 */
export function parseJsonMessage(value: unknown): RelayJsonMessage & { fromMailbox: Mailbox; senderMailbox: Mailbox | null } {
  assertNoHeaderInjection(value);
  const parsed = RelayJsonMessage.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "body"}: ${i.message}`);
    throw invalid("invalid_message", issues.join("; "));
  }
  const message = parsed.data;
  return { ...message, fromMailbox: toMailbox(message.from, "from"), senderMailbox: message.sender === undefined ? null : toMailbox(message.sender, "sender") };
}
