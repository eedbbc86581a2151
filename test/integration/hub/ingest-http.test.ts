import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { encodeDelivery } from "../../../shared/delivery/frame.ts";
import { HUB_INGEST_PATH, HUB_PING_PATH, HubHttpError, httpHubIngest } from "../../../shared/delivery/ingest-http.ts";
import { signRequest } from "../../../shared/signing.ts";
import { app } from "../../../workers/hub/app.ts";
import hub from "../../../workers/hub/index.ts";
import { MAX_INGEST_BODY_BYTES } from "../../../workers/hub/onward/limits.ts";
import { count, testDelivery } from "./helpers.ts";

const BASE = "https://hub.test";

/** Requests the client made, as sent; the fetcher hands each to the hub's own fetch handler. */
function recordingFetcher(): { fetcher: typeof fetch; sent: Request[] } {
  const sent: Request[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    sent.push(request.clone());
    return exports.default.fetch(request);
  }) as typeof fetch;
  return { fetcher, sent };
}

async function errorOf(promise: Promise<unknown>): Promise<HubHttpError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof HubHttpError) return err;
    throw err;
  }
  throw new Error("expected the hub to refuse");
}

/** POSTs a signed frame straight to the app with the given bindings. */
async function postSignedTo(bindings: Env, body: Uint8Array): Promise<Response> {
  const headers = await signRequest(env.SYNC_SIGNING_KEY, "POST", HUB_INGEST_PATH, body);
  return app.fetch(new Request(`${BASE}${HUB_INGEST_PATH}`, { method: "POST", headers, body }), bindings);
}

/** POSTs a frame signed at `now` (the client always signs at the current time). */
async function postSigned(body: Uint8Array, now = Date.now(), secret = env.SYNC_SIGNING_KEY): Promise<Response> {
  const headers = await signRequest(secret, "POST", HUB_INGEST_PATH, body, now);
  return exports.default.fetch(new Request(`${BASE}${HUB_INGEST_PATH}`, { method: "POST", headers, body }));
}

describe("signed HTTPS ingest", () => {
  it("stores a delivery sent by the edge's client, and answers duplicate for the same delivery id", async () => {
    const { fetcher } = recordingFetcher();
    const client = httpHubIngest(BASE, env.SYNC_SIGNING_KEY, fetcher);
    const d = testDelivery(["alice@https.test"]);
    const first = await client.ingest(d);
    expect(first).toEqual({ status: "stored", id: expect.any(Number) });
    const again = await client.ingest(d);
    expect(again).toEqual({ status: "duplicate", id: (first as { id: number }).id });
    expect(await count("SELECT count(*) AS n FROM messages WHERE delivery_id = ?", d.deliveryId)).toBe(1);
    const row = await env.DB.prepare("SELECT r2_key, rcpt_to, edge_id FROM messages WHERE delivery_id = ?")
      .bind(d.deliveryId)
      .first<{ r2_key: string; rcpt_to: string; edge_id: string }>();
    expect(JSON.parse(row!.rcpt_to)).toEqual(["alice@https.test"]);
    expect(row!.edge_id).toBe("edge-test");
    expect(new Uint8Array(await (await env.MAILBOX.get(row!.r2_key))!.arrayBuffer())).toEqual(d.raw);
  });

  it("answers 400 refused for a frame whose delivery is invalid, and stores nothing", async () => {
    const client = httpHubIngest(BASE, env.SYNC_SIGNING_KEY, recordingFetcher().fetcher);
    const result = await client.ingest(testDelivery(["alice@https.test"], { deliveryId: "not-a-uuid" }));
    expect(result).toEqual({ status: "refused", error: expect.stringMatching(/deliveryId/) });
    expect(await count("SELECT count(*) AS n FROM messages WHERE delivery_id = 'not-a-uuid'")).toBe(0);

    const notAFrame = await postSigned(new TextEncoder().encode("From: a@b\r\n\r\nnot a frame"));
    expect(notAFrame.status).toBe(400);
    expect(await notAFrame.json()).toEqual({ status: "refused", error: expect.stringMatching(/frame/) });
  });

  it("answers 401 with a JSON error when the key is wrong, and stores nothing", async () => {
    const d = testDelivery(["alice@https.test"]);
    const err = await errorOf(httpHubIngest(BASE, "not-the-signing-key-0123456789", recordingFetcher().fetcher).ingest(d));
    expect(err.status).toBe(401);
    expect(await count("SELECT count(*) AS n FROM messages WHERE delivery_id = ?", d.deliveryId)).toBe(0);

    const unsigned = await exports.default.fetch(new Request(`${BASE}${HUB_INGEST_PATH}`, { method: "POST", body: encodeDelivery(d) }));
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toEqual({ error: { code: "unauthorized", message: "Signature refused: missing_headers." } });
  });

  it("answers 401 for a body changed after signing", async () => {
    const body = encodeDelivery(testDelivery(["alice@https.test"]));
    const headers = await signRequest(env.SYNC_SIGNING_KEY, "POST", HUB_INGEST_PATH, body);
    const tampered = body.slice();
    const last = tampered.length - 1;
    tampered[last] = tampered[last]! ^ 1;
    const res = await exports.default.fetch(new Request(`${BASE}${HUB_INGEST_PATH}`, { method: "POST", headers, body: tampered }));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "unauthorized", message: expect.stringMatching(/bad_signature/) } });
  });

  it("answers 409 to a replayed request (the same nonce), even for a new delivery's bytes signed once", async () => {
    const { fetcher, sent } = recordingFetcher();
    const d = testDelivery(["alice@https.test"]);
    expect((await httpHubIngest(BASE, env.SYNC_SIGNING_KEY, fetcher).ingest(d)).status).toBe("stored");
    const replay = await exports.default.fetch(sent[0]!);
    expect(replay.status).toBe(409);
    expect(await replay.json()).toMatchObject({ error: { code: "replayed" } });
    // The nonce is remembered with an expiry past the signature window.
    const nonce = sent[0]!.headers.get("x-portcullis-nonce")!;
    const row = await env.DB.prepare("SELECT expires_at FROM request_nonces WHERE nonce = ?").bind(nonce).first<{ expires_at: string }>();
    expect(Date.parse(row!.expires_at)).toBeGreaterThan(Date.now() + 5 * 60_000);
  });

  it("answers 401 to a request signed outside the ±5 minute window, in either direction", async () => {
    for (const skew of [-6 * 60_000, 6 * 60_000]) {
      const d = testDelivery(["alice@https.test"]);
      const res = await postSigned(encodeDelivery(d), Date.now() + skew);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { message: expect.stringMatching(/outside_window/) } });
      expect(await count("SELECT count(*) AS n FROM messages WHERE delivery_id = ?", d.deliveryId)).toBe(0);
    }
    // Four minutes off is inside the window.
    expect((await postSigned(encodeDelivery(testDelivery(["alice@https.test"])), Date.now() - 4 * 60_000)).status).toBe(200);
  });

  it("answers 413 to a body over the largest possible frame, without reading it all", async () => {
    let sentBytes = 0;
    const chunk = new Uint8Array(1024 * 1024);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sentBytes > MAX_INGEST_BODY_BYTES + chunk.byteLength) return controller.close();
        sentBytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const headers = await signRequest(env.SYNC_SIGNING_KEY, "POST", HUB_INGEST_PATH, new Uint8Array());
    const res = await exports.default.fetch(new Request(`${BASE}${HUB_INGEST_PATH}`, { method: "POST", headers, body, duplex: "half" } as RequestInit));
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: "too_large" } });
  });

  it("needs no admin token, and the admin API does not take the signature instead", async () => {
    const headers = await signRequest(env.SYNC_SIGNING_KEY, "GET", "/api/v1/messages", new Uint8Array());
    expect((await exports.default.fetch(new Request(`${BASE}/api/v1/messages`, { headers }))).status).toBe(401);
  });
});

describe("signed ping and health", () => {
  it("answers a signed ping with the hub id, as the RPC ping does", async () => {
    const client = httpHubIngest(BASE, env.SYNC_SIGNING_KEY, recordingFetcher().fetcher);
    expect(await client.ping()).toEqual({ status: "ok", hubId: env.HUB_ID });
    expect(await (exports.HubIngest as unknown as { ping(): Promise<unknown> }).ping()).toEqual({ status: "ok", hubId: env.HUB_ID });
  });

  it("refuses a ping with a wrong key (401) and a replayed ping (409)", async () => {
    expect((await errorOf(httpHubIngest(BASE, "not-the-signing-key-0123456789", recordingFetcher().fetcher).ping())).status).toBe(401);
    const { fetcher, sent } = recordingFetcher();
    await httpHubIngest(BASE, env.SYNC_SIGNING_KEY, fetcher).ping();
    expect((await exports.default.fetch(sent[0]!)).status).toBe(409);
    expect(sent[0]!.url).toBe(`${BASE}${HUB_PING_PATH}`);
  });

  it("serves /healthz without a token while the database answers", async () => {
    const res = await exports.default.fetch(new Request(`${BASE}/healthz`));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", service: "portcullis-hub", hubId: env.HUB_ID });
  });
});

describe("when the database does not answer", () => {
  const broken = {
    ...env,
    DB: { prepare: () => ({ bind: () => ({ first: () => Promise.reject(new Error("D1 down")) }), first: () => Promise.reject(new Error("D1 down")) }) },
  } as unknown as Env;

  it("answers /healthz and a signed ping with 503", async () => {
    const health = await app.fetch(new Request(`${BASE}/healthz`), broken);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: "unavailable", service: "portcullis-hub", hubId: env.HUB_ID });

    const headers = await signRequest(env.SYNC_SIGNING_KEY, "GET", HUB_PING_PATH, new Uint8Array());
    const ping = await app.fetch(new Request(`${BASE}${HUB_PING_PATH}`, { headers }), broken);
    expect(ping.status).toBe(503);
    expect(await ping.json()).toMatchObject({ error: { code: "unavailable" } });
  });

  it("answers a signed ingest with a 5xx, which the edge treats as a failed attempt", async () => {
    const res = await postSignedTo(broken, encodeDelivery(testDelivery(["alice@https.test"])));
    expect(res.status).toBeGreaterThanOrEqual(500);
  });
});

describe("nonce pruning", () => {
  it("forgets nonces whose signatures have expired at the cron, and keeps the others", async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    const future = new Date(Date.now() + 600_000).toISOString();
    await env.DB.batch([
      env.DB.prepare("INSERT INTO request_nonces (nonce, expires_at) VALUES (?, ?)").bind("a".repeat(32), past),
      env.DB.prepare("INSERT INTO request_nonces (nonce, expires_at) VALUES (?, ?)").bind("b".repeat(32), future),
    ]);
    const ctx = createExecutionContext();
    await hub.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await count("SELECT count(*) AS n FROM request_nonces WHERE nonce = ?", "a".repeat(32))).toBe(0);
    expect(await count("SELECT count(*) AS n FROM request_nonces WHERE nonce = ?", "b".repeat(32))).toBe(1);
  });
});
