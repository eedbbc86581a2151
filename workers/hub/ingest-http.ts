import { type Context, Hono } from "hono";
import { readBounded, TooLargeError } from "../../shared/bytes.ts";
import { decodeDelivery, FrameError } from "../../shared/delivery/frame.ts";
import { HUB_INGEST_PATH, HUB_PING_PATH } from "../../shared/delivery/ingest-http.ts";
import { SIGNATURE_WINDOW_SECONDS, verifyRequest } from "../../shared/signing.ts";
import { errorBody } from "./api/errors.ts";
import type { HubEnv } from "./app.ts";
import { rememberNonce } from "./db/nonces.ts";
import { hubPing } from "./health.ts";
import { storeDelivery } from "./mailbox.ts";
import { MAX_INGEST_BODY_BYTES } from "./onward/limits.ts";
import { hubLog } from "../../shared/log.ts";

/**
 * Delivery to this hub over signed HTTPS, for edges without a service binding to it — the contract
 * in shared/delivery/ingest-http.ts. The signature (SYNC_SIGNING_KEY) is the only authentication:
 * these routes do not take the admin token.
 */
export const signedRoutes = new Hono<HubEnv>();

const fail = (c: Context<HubEnv>, status: 401 | 409 | 413 | 503, code: string, message: string): Response => c.json(errorBody(code, message), status);

/**
 * Reads the body (bounded) and checks its signature, clock and nonce. Returns the body, or the
 * response that refuses the request. The nonce is remembered only once the signature holds, so
 * unsigned traffic cannot fill the nonce table.
 */
async function verified(c: Context<HubEnv>): Promise<Uint8Array | Response> {
  const secret = c.env.SYNC_SIGNING_KEY;
  if (typeof secret !== "string" || secret.length === 0)
    return fail(c, 503, "not_configured", "Signed requests are disabled: set the SYNC_SIGNING_KEY secret.");
  const url = new URL(c.req.url);
  // Headers and clock first, before the body is read: unsigned or stale requests are refused
  // without the hub buffering up to 25 MiB for each. (Only the signature itself needs the body.)
  const early = await verifyRequest(secret, c.req.method, url.pathname + url.search, c.req.raw.headers, new Uint8Array());
  if (!early.ok && early.reason !== "bad_signature") return fail(c, 401, "unauthorized", `Signature refused: ${early.reason}.`);
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_INGEST_BODY_BYTES) return fail(c, 413, "too_large", `Body over ${MAX_INGEST_BODY_BYTES} bytes.`);
  let body: Uint8Array;
  try {
    body = c.req.raw.body === null ? new Uint8Array() : await readBounded(c.req.raw.body, MAX_INGEST_BODY_BYTES);
  } catch (err) {
    if (err instanceof TooLargeError) return fail(c, 413, "too_large", `Body over ${MAX_INGEST_BODY_BYTES} bytes.`);
    throw err;
  }
  const result = await verifyRequest(secret, c.req.method, url.pathname + url.search, c.req.raw.headers, body);
  if (!result.ok) return fail(c, 401, "unauthorized", `Signature refused: ${result.reason}.`);
  // Kept past the window's far edge (and a margin for clock skew), after which the timestamp alone refuses it.
  const expiresAt = new Date((result.timestamp + 2 * SIGNATURE_WINDOW_SECONDS) * 1000).toISOString();
  if (!(await rememberNonce(c.env.DB, result.nonce, expiresAt, new Date().toISOString()))) {
    return fail(c, 409, "replayed", "Signature refused: this nonce was already used.");
  }
  return body;
}

/**
 * POST /_portcullis/ingest — one delivery frame. 200 stored or duplicate, 400 refused (an invalid
 * frame or delivery: retrying cannot help), 401 bad signature, 409 replayed nonce, 413 too large,
 * 5xx the hub cannot take mail now.
 */
signedRoutes.post(HUB_INGEST_PATH, async (c) => {
  const body = await verified(c);
  if (body instanceof Response) return body;
  let delivery;
  try {
    delivery = decodeDelivery(body);
  } catch (err) {
    if (err instanceof FrameError) return c.json({ status: "refused", error: err.message }, 400);
    throw err;
  }
  const result = await storeDelivery(c.env, delivery);
  return c.json(result, result.status === "refused" ? 400 : 200);
});

/** GET /_portcullis/ping — signed, empty body: 200 {"status":"ok","hubId"} while the database answers, 503 otherwise. */
signedRoutes.get(HUB_PING_PATH, async (c) => {
  try {
    // The nonce check writes to D1 too: a database that fails it is the same "not now".
    const body = await verified(c);
    if (body instanceof Response) return body;
    return c.json(await hubPing(c.env));
  } catch (err) {
    hubLog(c.env.HUB_ID).error("ping_failed", { error: String(err) });
    return fail(c, 503, "unavailable", "The hub's database does not answer.");
  }
});
