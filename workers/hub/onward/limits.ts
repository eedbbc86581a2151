import { MAX_FRAME_HEADER_BYTES } from "../../../shared/delivery/frame.ts";
import { MAX_MESSAGE_BYTES } from "../../../shared/limits.ts";

/**
 * Limits of the hub's delivery paths, hub only: signed HTTPS ingest, and onward routing (webhook
 * and forward routes). Onward timings follow the edge's delivery defaults
 * (shared/delivery/settings.ts): retries from under a minute up to an hour, and expiry after two
 * days, as Exchange's transport does.
 */

/**
 * Largest signed ingest body (bytes): a frame's 10-byte prefix (magic and header length), the
 * largest header a frame may carry and the largest message. Nothing bigger can be a valid frame,
 * so it is refused before it is buffered in the isolate's 128 MB.
 */
export const MAX_INGEST_BODY_BYTES = 10 + MAX_FRAME_HEADER_BYTES + MAX_MESSAGE_BYTES;

/** Largest body of a domain PUT (bytes): a route is a few hundred bytes; anything far bigger is a mistake, not a route. */
export const MAX_DOMAIN_BODY_BYTES = 16 * 1024;

/**
 * How long one webhook POST may take, connection to last response byte (ms). A receiver that
 * hangs must not hold the queue consumer (and its subrequest slots) for the whole invocation; it
 * is retried like a 5xx.
 */
export const WEBHOOK_TIMEOUT_MS = 30_000;

/**
 * How long a started attempt holds its row before another consumer may start one (ms). Longer than
 * any attempt (the webhook timeout plus reading the message from R2), so two attempts never run
 * at once; after a crash mid-attempt the row is due again once this has passed.
 */
export const ONWARD_ATTEMPT_LEASE_MS = 2 * 60_000;

/** Delay before the second attempt (s); each later one doubles it. Short enough that a receiver's blip costs under a minute. */
export const ONWARD_RETRY_BASE_SECONDS = 30;

/**
 * Longest delay between two attempts (s). Caps the doubling so a receiver that comes back is
 * served within the hour; also well under the 12 h a queue message may be delayed.
 */
export const ONWARD_RETRY_MAX_SECONDS = 3_600;

/**
 * How long after ingest an onward step may still be attempted (s). Past this the row is failed
 * for an operator to look at, instead of retrying against a receiver that is gone for good; the
 * message itself stays in the mailbox store.
 */
export const ONWARD_EXPIRE_SECONDS = 2 * 86_400;

/**
 * How overdue a pending row must be before the cron sweeper re-queues it (s). Normally the row's
 * own delayed queue message arrives on time; the sweeper only rescues rows whose message was lost
 * (a crash between storing and queueing, a queue outage), so it leaves on-time rows alone.
 */
export const ONWARD_SWEEP_GRACE_SECONDS = 60;

/**
 * Rows one cron run re-queues (or, if the queue refuses, attempts itself). Bounds the run's D1
 * reads and, in the fallback, its subrequests; the rest wait a minute for the next run.
 */
export const ONWARD_SWEEP_BATCH = 100;

/** Characters of an error kept in `last_error`: enough to diagnose, not a copy of a big error page. */
export const ONWARD_ERROR_CHARS = 500;

/**
 * Characters of a webhook receiver's error answer kept for the operator. Only the first chunk of
 * the answer is read: a receiver that answers 500 with megabytes costs one chunk, not the download.
 */
export const WEBHOOK_ANSWER_CHARS = 200;

/** Longest delay a queue message may carry (s): Cloudflare Queues refuse more than 12 hours. */
export const QUEUE_MAX_DELAY_SECONDS = 43_200;

/**
 * Shortest webhook secret accepted (characters). The secret is the receiver's only proof that a
 * request came from this hub; a short one can be guessed offline from one captured signature.
 */
export const MIN_WEBHOOK_SECRET_CHARS = 16;

/** Longest webhook secret accepted (characters): HMAC gains nothing past its block size, and the value is stored per onward row. */
export const MAX_WEBHOOK_SECRET_CHARS = 256;

/** Longest webhook URL accepted (characters), so a route stays a small row and a readable header of logs. */
export const MAX_WEBHOOK_URL_CHARS = 2_048;

/**
 * Characters of the original subject kept in a forward's "Fwd:" subject. The subject is the
 * sender's text: capping it keeps the wrapper's header short (one folded line per 45 bytes when
 * encoded) whatever the original carried.
 */
export const FORWARD_SUBJECT_CHARS = 200;
