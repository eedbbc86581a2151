import { MAX_MESSAGE_BYTES } from "../limits.ts";

/**
 * The relay's limits (POST /v1/relay on the edge), each with what it defends against. The limits
 * every entry point shares (message size, recipients, parser limits) live in shared/limits.ts.
 */

/**
 * Headroom kept below MAX_MESSAGE_BYTES for what the relay adds to a submission: Message-ID, Date
 * and DKIM-Signature fields (an RSA-4096 signature is under 1 KiB; several keys per domain fit).
 * Without it a submission just under the limit would be refused by the hub or the send connector
 * after it was accepted here.
 */
export const RELAY_HEADROOM_BYTES = 16 * 1024;

/** Largest message a relay client may submit (bytes) unless its `maxMessageBytes` says less. */
export const MAX_RELAY_MESSAGE_BYTES = MAX_MESSAGE_BYTES - RELAY_HEADROOM_BYTES;

/**
 * Largest JSON request (bytes): base64 grows attachments by 4/3, and field names, text and HTML
 * come on top. The message built from it is then held to the client's message limit.
 */
export const MAX_RELAY_JSON_BYTES = Math.ceil((MAX_RELAY_MESSAGE_BYTES * 4) / 3) + 256 * 1024;

/** Attachments in one JSON message: each becomes a MIME part, and MIME parts cost the parse and the agents. */
export const MAX_RELAY_ATTACHMENTS = 100;

/** Longest Subject or extra header value (characters): RFC 5322 §2.1.1 allows 998 per line; folded values may be longer, not without bound. */
export const MAX_RELAY_HEADER_VALUE_CHARS = 4096;

/** Extra header fields in one JSON message: applications add a few (X-Mailer, List-Unsubscribe, In-Reply-To); more is abuse. */
export const MAX_RELAY_EXTRA_HEADERS = 50;

/** Longest Idempotency-Key (characters), as the IETF draft and the major APIs allow: a UUID or a short hash fits easily. */
export const MAX_IDEMPOTENCY_KEY_CHARS = 255;

/**
 * How long a relay client's answer is kept for its Idempotency-Key (ms): a client's retries come
 * within minutes; a day covers a retry queue that waited out an outage, and bounds the storage.
 */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * How long a submission may hold its Idempotency-Key before a retry may take it over (ms): longer
 * than the slowest submission (hub attempts within the delivery budget, then the send connector),
 * so a retry never runs beside the first attempt; short enough that a crashed attempt does not
 * block the key for long. Internal recipients cannot receive a taken-over submission twice: its
 * delivery id is derived from the key, and hubs store a delivery id once.
 */
export const IDEMPOTENCY_LEASE_MS = 2 * 60 * 1000;

/** Largest answer kept for an Idempotency-Key (bytes of JSON): 100 recipients with their statuses fit many times over. */
export const MAX_IDEMPOTENT_ANSWER_BYTES = 256 * 1024;

/** How long one request to a smart host may take (ms) before its recipients are reported deferred. */
export const SMARTHOST_TIMEOUT_MS = 15_000;

/** How long one send through the send_email binding may take (ms). */
export const SEND_EMAIL_TIMEOUT_MS = 15_000;

/** Default rate for a relay client created without one (messages per minute). */
export const DEFAULT_RELAY_RATE_PER_MINUTE = 60;
