import { readBounded, TooLargeError } from "../../../shared/bytes.ts";
import { toHex } from "../../../shared/directory/hash.ts";
import type { Mailbox } from "../../../shared/relay/addresses.ts";
import { composeMessage } from "../../../shared/relay/compose.ts";
import { invalid, RelayError } from "../../../shared/relay/errors.ts";
import { parseJsonMessage } from "../../../shared/relay/json-message.ts";
import { MAX_IDEMPOTENCY_KEY_CHARS, MAX_RELAY_JSON_BYTES, MAX_RELAY_MESSAGE_BYTES } from "../../../shared/relay/limits.ts";
import { prepareRawMessage } from "../../../shared/relay/raw-message.ts";
import type { RelayClient } from "./clients.ts";

/** How the message came: raw RFC 5322, or JSON the relay builds a message from. */
export type SubmissionKind = "raw" | "json";

/** A request body, read within its limits, and what identifies it for idempotency. */
export interface ReadBody {
  kind: SubmissionKind;
  bytes: Uint8Array;
  /** SHA-256 (hex) over the kind, the query and the body: the same Idempotency-Key with another request is refused. */
  fingerprint: string;
}

/** A submission made into a message, before hygiene and signing. */
export interface Submission {
  raw: Uint8Array;
  from: Mailbox;
  sender: Mailbox | null;
  recipients: string[];
  messageId: string;
}

/** The message limit of a client. */
export function messageLimit(client: RelayClient): number {
  return Math.min(client.maxMessageBytes ?? MAX_RELAY_MESSAGE_BYTES, MAX_RELAY_MESSAGE_BYTES);
}

/** The largest body of a JSON request for a message limit: base64 is 4/3 the bytes, plus the fields. */
function jsonLimit(messageBytes: number): number {
  return Math.min(Math.ceil((messageBytes * 4) / 3) + 256 * 1024, MAX_RELAY_JSON_BYTES);
}

function tooLarge(max: number): RelayError {
  return new RelayError(413, "too_large", `The message is larger than this client's limit of ${max} bytes.`);
}

/** The Idempotency-Key header: absent, or 1–255 printable ASCII characters. */
export function idempotencyKey(request: Request): string | null {
  const value = request.headers.get("idempotency-key");
  if (value === null) return null;
  const key = value.trim();
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_CHARS || !/^[\x21-\x7e]+$/.test(key))
    throw invalid("invalid_idempotency_key", `Idempotency-Key must be 1–${MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters without spaces.`);
  return key;
}

/** Reads the body within the client's limit: 415 for another content type, 413 past the limit (before reading, when Content-Length says so). */
export async function readSubmission(request: Request, client: RelayClient): Promise<ReadBody> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  let kind: SubmissionKind;
  if (type === "message/rfc822") kind = "raw";
  else if (type === "application/json") kind = "json";
  else throw new RelayError(415, "unsupported_media_type", "Send the message as Content-Type: message/rfc822 (raw RFC 5322) or application/json.");
  const limit = messageLimit(client);
  const max = kind === "raw" ? limit : jsonLimit(limit);
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > max) throw tooLarge(limit);
  let bytes: Uint8Array;
  try {
    bytes = request.body === null ? new Uint8Array(0) : await readBounded(request.body, max);
  } catch (err) {
    if (err instanceof TooLargeError) throw tooLarge(limit);
    throw err;
  }
  const query = new URL(request.url).search;
  const head = new TextEncoder().encode(`${kind}\n${query}\n`);
  const both = new Uint8Array(head.length + bytes.length);
  both.set(head);
  both.set(bytes, head.length);
  return { kind, bytes, fingerprint: toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", both))) };
}

/** The `to` query parameters of a raw submission (repeatable, or comma-separated): its envelope recipients. */
function envelopeRecipients(url: URL): string[] {
  return url.searchParams
    .getAll("to")
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

/** Makes the body into a message: 400 for anything malformed, 413 once the built message passes the limit. */
export function parseSubmission(request: Request, body: ReadBody, client: RelayClient, now: Date): Submission {
  const url = new URL(request.url);
  let submission: Submission;
  if (body.kind === "raw") {
    if (body.bytes.length === 0) throw invalid("invalid_message", "The body is empty: send the message as raw RFC 5322.");
    submission = prepareRawMessage(body.bytes, now, envelopeRecipients(url));
  } else {
    if (url.searchParams.has("to")) throw invalid("bad_request", "With JSON, name the recipients in to, cc and bcc, not in the query.");
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body.bytes));
    } catch {
      throw invalid("bad_request", "The body is not valid JSON (UTF-8).");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("invalid_message", "The body must be a JSON object.");
    submission = composeMessage(parseJsonMessage(value), now);
  }
  if (submission.raw.length > messageLimit(client)) throw tooLarge(messageLimit(client));
  return submission;
}
