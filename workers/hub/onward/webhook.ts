import { concatBytes } from "../../../shared/bytes.ts";
import { toHex } from "../../../shared/directory/hash.ts";
import { WEBHOOK_ANSWER_CHARS } from "./limits.ts";

/**
 * A webhook route's request: the message as delivered (raw bytes with the X-Portcullis tag headers
 * on top) in the body, the envelope in headers, and an HMAC-SHA-256 signature the receiver checks
 * with the route's secret:
 *
 *   POST <url>
 *   Content-Type: message/rfc822
 *   X-Portcullis-Delivery-Id:   0b4f…-…         (the same on every attempt: receivers de-duplicate on it)
 *   X-Portcullis-Envelope-From: sender@example.net
 *   X-Portcullis-Envelope-To:   alice@example.com, bob@example.com
 *   X-Portcullis-Attempt:       1
 *   X-Portcullis-Timestamp:     1795000000      (Unix seconds)
 *   X-Portcullis-Signature:     v1=<hex HMAC-SHA-256(secret, timestamp + "." + body)>
 *
 * Envelope addresses are percent-encoded outside printable ASCII (and `%` itself), so an SMTPUTF8
 * address survives in a header; decodeURIComponent gives it back.
 */
export const WEBHOOK_HEADERS = {
  deliveryId: "x-portcullis-delivery-id",
  envelopeFrom: "x-portcullis-envelope-from",
  envelopeTo: "x-portcullis-envelope-to",
  attempt: "x-portcullis-attempt",
  timestamp: "x-portcullis-timestamp",
  signature: "x-portcullis-signature",
} as const;

const encoder = new TextEncoder();

/**
 * The signature header value for one body at one time: `v1=` and the hex HMAC-SHA-256, under the
 * route's secret, of the decimal timestamp, a dot, and the body bytes.
 *
 * @example
 * await webhookSignature("a-long-route-secret", "1795000000", body) // "v1=5d2a…"
 */
export async function webhookSignature(secret: string, timestamp: string, body: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signed = concatBytes([encoder.encode(`${timestamp}.`), body]);
  return `v1=${toHex(new Uint8Array(await crypto.subtle.sign("HMAC", key, signed)))}`;
}

/** An envelope address as a header value: printable ASCII as it is, anything else percent-encoded. */
function headerValue(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]/gu, (ch) => encodeURIComponent(ch));
}

export interface WebhookPost {
  url: string;
  secret: string;
  deliveryId: string;
  envelopeFrom: string;
  recipients: string[];
  attempt: number;
  body: Uint8Array;
}

export interface WebhookOptions {
  fetcher: typeof fetch;
  timeoutMs: number;
  now: number;
}

/**
 * Posts one message to a webhook. Returns null when the receiver took it (any 2xx), or why not:
 * another status (with the start of its answer), a timeout, or a network error. Redirects are not
 * followed — a receiver that moved is fixed in the route, not by sending mail wherever a 3xx says.
 */
export async function postWebhook(post: WebhookPost, options: WebhookOptions): Promise<string | null> {
  const timestamp = String(Math.floor(options.now / 1000));
  const headers = {
    "content-type": "message/rfc822",
    [WEBHOOK_HEADERS.deliveryId]: post.deliveryId,
    [WEBHOOK_HEADERS.envelopeFrom]: headerValue(post.envelopeFrom),
    [WEBHOOK_HEADERS.envelopeTo]: post.recipients.map(headerValue).join(", "),
    [WEBHOOK_HEADERS.attempt]: String(post.attempt),
    [WEBHOOK_HEADERS.timestamp]: timestamp,
    [WEBHOOK_HEADERS.signature]: await webhookSignature(post.secret, timestamp, post.body),
  };
  let res: Response;
  try {
    res = await options.fetcher(post.url, { method: "POST", headers, body: post.body, redirect: "manual", signal: AbortSignal.timeout(options.timeoutMs) });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    return timedOut ? `no answer within ${options.timeoutMs} ms` : `request failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (res.status >= 200 && res.status < 300) {
    await res.body?.cancel();
    return null;
  }
  return `HTTP ${res.status}${await answerExcerpt(res)}`;
}

/** The start of an answer's body (the rest is not read), for the operator to see what the receiver said. */
async function answerExcerpt(res: Response): Promise<string> {
  if (res.body === null) return "";
  const reader = res.body.getReader();
  try {
    const first = await reader.read();
    const text = first.done ? "" : new TextDecoder().decode(first.value.subarray(0, WEBHOOK_ANSWER_CHARS * 4)).slice(0, WEBHOOK_ANSWER_CHARS);
    const clean = text.replace(/[\x00-\x1f\x7f]+/g, " ").trim();
    return clean === "" ? "" : `: ${clean}`;
  } catch {
    return "";
  } finally {
    await reader.cancel().catch(() => {});
  }
}
