import { sha256Hex, toHex } from "./directory/hash.ts";

/**
 * Signed HTTPS between hub and edge when no service binding joins them: HMAC-SHA-256 over the
 * method, path (with query), timestamp, a nonce and the SHA-256 of the body.
 *
 *   X-Portcullis-Timestamp: 1795000000        (Unix seconds)
 *   X-Portcullis-Nonce:     9f1c…             (32 hex digits, never reused)
 *   X-Portcullis-Signature: v1=5d2a…          (hex HMAC of the canonical string)
 */

/** How far a request's clock may be from the receiver's (seconds): replays older than this are refused outright. */
export const SIGNATURE_WINDOW_SECONDS = 300;

export const TIMESTAMP_HEADER = "x-portcullis-timestamp";
export const NONCE_HEADER = "x-portcullis-nonce";
export const SIGNATURE_HEADER = "x-portcullis-signature";

const encoder = new TextEncoder();

async function hmacKey(secret: string): Promise<CryptoKey> {
  if (typeof secret !== "string" || secret.length < 16) throw new Error("the signing key must be a secret of at least 16 characters");
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

function canonical(method: string, pathAndQuery: string, timestamp: string, nonce: string, bodyHash: string): Uint8Array {
  return encoder.encode(["v1", method.toUpperCase(), pathAndQuery, timestamp, nonce, bodyHash].join("\n"));
}

/**
 * The headers that sign one request.
 *
 * @example
 * const headers = await signRequest(key, "POST", "/_portcullis/directory", body);
 * await fetch(url, { method: "POST", headers, body });
 */
export async function signRequest(secret: string, method: string, pathAndQuery: string, body: Uint8Array, now = Date.now()): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(now / 1000));
  const nonce = toHex(crypto.getRandomValues(new Uint8Array(16)));
  const mac = await crypto.subtle.sign(
    "HMAC",
    await hmacKey(secret),
    canonical(method, pathAndQuery, timestamp, nonce, await sha256Hex(body)) as Uint8Array<ArrayBuffer>,
  );
  return { [TIMESTAMP_HEADER]: timestamp, [NONCE_HEADER]: nonce, [SIGNATURE_HEADER]: `v1=${toHex(new Uint8Array(mac))}` };
}

export type VerifyResult =
  { ok: true; nonce: string; timestamp: number } | { ok: false; reason: "missing_headers" | "bad_timestamp" | "outside_window" | "bad_signature" };

/**
 * Checks a request's signature and clock. The caller must still refuse a nonce it has seen within
 * the window (replay); this function cannot know that.
 */
export async function verifyRequest(
  secret: string,
  method: string,
  pathAndQuery: string,
  headers: Headers,
  body: Uint8Array,
  now = Date.now(),
): Promise<VerifyResult> {
  const timestamp = headers.get(TIMESTAMP_HEADER);
  const nonce = headers.get(NONCE_HEADER);
  const signature = headers.get(SIGNATURE_HEADER);
  if (timestamp === null || nonce === null || signature === null) return { ok: false, reason: "missing_headers" };
  if (!/^\d{1,12}$/.test(timestamp) || !/^[0-9a-f]{32}$/.test(nonce)) return { ok: false, reason: "bad_timestamp" };
  const seconds = Number(timestamp);
  if (Math.abs(now / 1000 - seconds) > SIGNATURE_WINDOW_SECONDS) return { ok: false, reason: "outside_window" };
  const m = /^v1=([0-9a-f]{64})$/.exec(signature);
  if (m === null) return { ok: false, reason: "bad_signature" };
  const mac = Uint8Array.from(m[1]!.match(/../g)!.map((h) => parseInt(h, 16)));
  // crypto.subtle.verify compares in constant time.
  const valid = await crypto.subtle.verify(
    "HMAC",
    await hmacKey(secret),
    mac,
    canonical(method, pathAndQuery, timestamp, nonce, await sha256Hex(body)) as Uint8Array<ArrayBuffer>,
  );
  return valid ? { ok: true, nonce, timestamp: seconds } : { ok: false, reason: "bad_signature" };
}
