import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MAX_RELAY_MESSAGE_BYTES } from "../../../shared/relay/limits.ts";
import type { RelayLimiter } from "../../../workers/edge/relay/limiter.do.ts";
import { blobKey } from "../../../workers/edge/directory.ts";
import { storedBySubject } from "../../helpers/delivery.ts";
import { publish, snapshotOf } from "../../helpers/edge-directory.ts";
import { migrateHub } from "../../helpers/hub.ts";
import { buildMessage } from "../../helpers/mail.ts";
import { CLIENT_IP, RELAY_KEY, relay, relayClient, relayRequest, storedRaw, useRelay } from "../../helpers/relay.ts";

beforeAll(async () => {
  await migrateHub();
});

beforeEach(async () => {
  await useRelay([
    await relayClient(),
    await relayClient({ id: "crm", name: "CRM", ratePerMinute: 2, allowedSenders: ["crm@example.com"] }, "pcr_crm-key-0123456789"),
  ]);
  // Each test starts with full buckets and no remembered keys.
  for (const id of ["sharepoint", "crm"]) {
    await runInDurableObject(limiter(id), (_, state) => {
      state.storage.sql.exec("DELETE FROM bucket");
      state.storage.sql.exec("DELETE FROM idempotency");
    });
  }
});

let n = 0;
/** A JSON message from the SharePoint client to alice, with a unique subject. */
function message(overrides: Record<string, unknown> = {}): { subject: string } & Record<string, unknown> {
  n++;
  return {
    from: "SharePoint <sharepoint@example.com>",
    to: ["alice@example.com"],
    subject: `relay ${n} ${crypto.randomUUID()}`,
    text: "Hello Alice.",
    ...overrides,
  };
}

function limiter(clientId: string): DurableObjectStub<RelayLimiter> {
  return env.RELAY_LIMITER.get(env.RELAY_LIMITER.idFromName(clientId));
}

/** Every error answer: the status, and a JSON `{error: {code, message}}` with a message for people. */
function expectError(result: { status: number; body: { error?: { code: string; message: string } } }, status: number, code: string): void {
  expect(result.status).toBe(status);
  expect(result.body.error?.code).toBe(code);
  expect(result.body.error?.message).toMatch(/\w{3}/);
}

describe("relay: authentication", () => {
  it("relays a message from an allowed client, address and sender to an internal recipient", async () => {
    const m = message();
    const result = await relay(relayRequest(m));
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({
      status: "accepted",
      messageId: expect.stringMatching(/^<[0-9a-f-]{36}@example\.com>$/),
      deliveryId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      recipients: [{ address: "alice@example.com", route: "internal", status: "delivered", via: "hub" }],
      dkim: [],
    });
    expect(await storedBySubject(m.subject)).toBe(1);
  });

  it("is reached through the edge's own fetch handler at /v1/relay", async () => {
    const res = await exports.default.fetch(relayRequest(message(), { key: null }));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
  });

  it.each([
    ["no Authorization header", { key: null }],
    ["an unknown key", { key: "pcr_not-a-key-of-anyone-0123456789" }],
    ["the right key with another scheme", { headers: { authorization: `Basic ${RELAY_KEY}` }, key: null }],
    ["a key hash instead of the key", { key: "a".repeat(64) }],
  ])("answers 401 for %s, and sends nothing", async (_what, options) => {
    const m = message();
    const result = await relay(relayRequest(m, options));
    expectError(result, 401, "unauthorized");
    expect(result.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await storedBySubject(m.subject)).toBe(0);
  });

  it("answers 403 for a source address outside the client's ranges, whatever X-Forwarded-For claims", async () => {
    const m = message();
    const outside = await relay(relayRequest(m, { ip: "192.0.2.10", headers: { "x-forwarded-for": CLIENT_IP } }));
    expectError(outside, 403, "ip_not_allowed");
    const none = await relay(relayRequest(m, { ip: null, headers: { "x-forwarded-for": CLIENT_IP, "x-real-ip": CLIENT_IP } }));
    expectError(none, 403, "ip_not_allowed");
    expect(await storedBySubject(m.subject)).toBe(0);
  });

  it("takes IPv6 sources in an allowed range, and refuses a client with no ranges at all", async () => {
    expect((await relay(relayRequest(message(), { ip: "2001:db8::25" }))).status).toBe(200);
    expectError(await relay(relayRequest(message(), { ip: "2001:db9::25" })), 403, "ip_not_allowed");
    await useRelay([await relayClient({ allowedIps: [] })]);
    expectError(await relay(relayRequest(message())), 403, "ip_not_allowed");
  });
});

describe("relay: allowed senders", () => {
  it("takes any address of an allowed @domain and a listed address, case-insensitively", async () => {
    for (const from of ["Reports@Example.COM", "noreply@example.com", "Partner <reports@partner.example>"]) {
      expect((await relay(relayRequest(message({ from })))).status, from).toBe(200);
    }
  });

  it.each([
    ["another domain", { from: "ceo@bank.example" }],
    ["a subdomain of an allowed domain", { from: "app@mail.example.com" }],
    ["another address at a listed address's domain", { from: "sales@partner.example" }],
    ["an allowed From with a Sender that is not", { from: "app@example.com", sender: "mallory@evil.example" }],
  ])("answers 403 for %s, and sends nothing", async (_what, overrides) => {
    const m = message(overrides);
    expectError(await relay(relayRequest(m)), 403, "sender_not_allowed");
    expect(await storedBySubject(m.subject)).toBe(0);
  });

  it("checks From and Sender of a raw message too", async () => {
    const subject = `raw sender ${crypto.randomUUID()}`;
    expectError(await relay(relayRequest(buildMessage({ from: "Boss <ceo@bank.example>", subject }))), 403, "sender_not_allowed");
    expectError(
      await relay(relayRequest(buildMessage({ from: "app@example.com", subject, headers: { Sender: "mallory@evil.example" } }))),
      403,
      "sender_not_allowed",
    );
    // Two From fields: one to show, one to check — refused outright.
    const twoFroms = buildMessage({ from: "app@example.com", subject }).replace("\r\n\r\n", "\r\nFrom: ceo@bank.example\r\n\r\n");
    expectError(await relay(relayRequest(twoFroms)), 400, "invalid_message");
    expect(await storedBySubject(subject)).toBe(0);
  });
});

describe("relay: rate limit", () => {
  const crm = (overrides: Record<string, unknown> = {}) => relayRequest(message({ from: "crm@example.com", ...overrides }), { key: "pcr_crm-key-0123456789" });

  it("answers 429 with Retry-After once the client's bucket is empty, and takes mail again once it refills", async () => {
    expect((await relay(crm())).status).toBe(200);
    expect((await relay(crm())).status).toBe(200);
    const over = await relay(crm());
    expectError(over, 429, "rate_limited");
    // 2 a minute: the next token comes within 30 s.
    const retryAfter = Number(over.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(30);
    // Other clients have buckets of their own.
    expect((await relay(relayRequest(message()))).status).toBe(200);
    // Half a minute later (the bucket's clock moved back) one token is there, and only one.
    await runInDurableObject(limiter("crm"), (_, state) => {
      state.storage.sql.exec("UPDATE bucket SET updated_ms = updated_ms - 30500");
    });
    expect((await relay(crm())).status).toBe(200);
    expect((await relay(crm())).status).toBe(429);
  });

  it("never lets two requests take the last token", async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => relay(crm())));
    expect(results.filter((r) => r.status === 200)).toHaveLength(2);
    expect(results.filter((r) => r.status === 429)).toHaveLength(3);
  });
});

describe("relay: idempotency", () => {
  it("answers a retried request with the same answer and sends the message once", async () => {
    const m = message();
    const key = crypto.randomUUID();
    const first = await relay(relayRequest(m, { idempotencyKey: key }));
    expect(first.status).toBe(200);
    const again = await relay(relayRequest(m, { idempotencyKey: key }));
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(await storedBySubject(m.subject)).toBe(1);
    // Two at once with a fresh key: one sends, the other waits its turn or gets the same answer.
    const m2 = message();
    const key2 = crypto.randomUUID();
    const both = await Promise.all([relay(relayRequest(m2, { idempotencyKey: key2 })), relay(relayRequest(m2, { idempotencyKey: key2 }))]);
    expect(both.map((r) => r.status).sort()).toEqual(expect.arrayContaining([200]));
    for (const r of both) expect([200, 409]).toContain(r.status);
    expect(await storedBySubject(m2.subject)).toBe(1);
  });

  it("does not charge a replay against the rate limit", async () => {
    const request = () =>
      relayRequest(message({ from: "crm@example.com", subject: "crm once" }), { key: "pcr_crm-key-0123456789", idempotencyKey: "order-4711" });
    expect((await relay(request())).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await relay(request())).status).toBe(200);
    expect(await storedBySubject("crm once")).toBe(1);
  });

  it("answers 422 for the same key with a different message, and 409 while the first is still running", async () => {
    const key = crypto.randomUUID();
    expect((await relay(relayRequest(message(), { idempotencyKey: key }))).status).toBe(200);
    expectError(await relay(relayRequest(message(), { idempotencyKey: key })), 422, "idempotency_key_reused");
    // A submission holding a key (as a running one does) makes a retry wait.
    const held = crypto.randomUUID();
    const m = message();
    const request = relayRequest(m, { idempotencyKey: held });
    const body = new Uint8Array(await request.clone().arrayBuffer());
    const head = new TextEncoder().encode("json\n\n");
    const fingerprint = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array([...head, ...body]))), (b) =>
      b.toString(16).padStart(2, "0"),
    ).join("");
    expect(await limiter("sharepoint").admit({ ratePerMinute: 1000, idempotencyKey: held, fingerprint })).toEqual({ kind: "go" });
    const busy = await relay(request);
    expectError(busy, 409, "idempotency_in_progress");
    expect(Number(busy.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await storedBySubject(m.subject)).toBe(0);
  });

  it("runs a retry again when the first attempt sent nothing", async () => {
    const key = crypto.randomUUID();
    const m = message({ to: ["nobody@example.com"] });
    const first = await relay(relayRequest(m, { idempotencyKey: key }));
    expectError(first, 400, "recipients_refused");
    const again = await relay(relayRequest(m, { idempotencyKey: key }));
    expectError(again, 400, "recipients_refused");
    expect(again.headers.get("idempotent-replayed")).toBeNull();
  });

  it("gives a retried submission the same delivery id, so a hub stores it once even after the key's lease lapsed", async () => {
    const key = crypto.randomUUID();
    const m = message();
    const first = await relay(relayRequest(m, { idempotencyKey: key }));
    // The answer was lost with the key's record (a crash before it was kept): the retry runs again.
    await runInDurableObject(limiter("sharepoint"), (_, state) => {
      state.storage.sql.exec("DELETE FROM idempotency WHERE key = ?", key);
    });
    const again = await relay(relayRequest(m, { idempotencyKey: key }));
    expect(again.body.deliveryId).toBe(first.body.deliveryId);
    expect(await storedBySubject(m.subject)).toBe(1);
  });

  it("refuses a malformed Idempotency-Key", async () => {
    expectError(await relay(relayRequest(message(), { idempotencyKey: "has spaces in it" })), 400, "invalid_idempotency_key");
    expectError(await relay(relayRequest(message(), { idempotencyKey: "k".repeat(256) })), 400, "invalid_idempotency_key");
  });

  it("forgets keys once they expire (the alarm clears them)", async () => {
    const key = crypto.randomUUID();
    expect((await relay(relayRequest(message(), { idempotencyKey: key }))).status).toBe(200);
    await runInDurableObject(limiter("sharepoint"), async (instance, state) => {
      state.storage.sql.exec("UPDATE idempotency SET expires_ms = 1 WHERE key = ?", key);
      await instance.alarm();
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM idempotency WHERE key = ?", key).one().n).toBe(0);
    });
  });
});

describe("relay: errors are a status and a JSON error", () => {
  it.each([
    ["GET", relayRequest(message(), { method: "GET" }), 405, "method_not_allowed"],
    ["another content type", relayRequest(message(), { contentType: "text/plain" }), 415, "unsupported_media_type"],
    ["JSON that does not parse", relayRequest("{not json", { contentType: "application/json" }), 400, "bad_request"],
    ["a JSON array", relayRequest([1, 2]), 400, "invalid_message"],
    ["no recipient", relayRequest(message({ to: [] })), 400, "no_recipients"],
    ["a malformed recipient", relayRequest(message({ to: ["not an address"] })), 400, "invalid_recipient"],
    ["an unknown field", relayRequest(message({ priority: "high" })), 400, "invalid_message"],
    ["attachment content that is not base64", relayRequest(message({ attachments: [{ filename: "a.txt", content: "%%%" }] })), 400, "invalid_message"],
    ["a reserved extra header", relayRequest(message({ headers: { Received: "from nowhere" } })), 400, "invalid_message"],
    ["a raw message without From", relayRequest("To: alice@example.com\r\nSubject: x\r\n\r\nbody\r\n"), 400, "invalid_message"],
    ["a raw message with a broken header", relayRequest("From: app@example.com\r\nnot a header line\r\n\r\nbody\r\n"), 400, "invalid_message"],
    ["an empty raw message", relayRequest(""), 400, "invalid_message"],
    ["too many recipients", relayRequest(message({ to: Array.from({ length: 101 }, (_, i) => `user${i}@example.com`) })), 400, "invalid_message"],
  ])("%s", async (_what, request, status, code) => {
    expectError(await relay(request), status, code);
  });

  it("answers 413 past the client's size limit, by Content-Length before reading and by the bytes read", async () => {
    await useRelay([await relayClient({ maxMessageBytes: 4096 })]);
    const big = message({ text: "x".repeat(5000) });
    expectError(await relay(relayRequest(big)), 413, "too_large");
    expectError(await relay(relayRequest(buildMessage({ from: "app@example.com", body: "y".repeat(5000) }))), 413, "too_large");
    const declared = relayRequest(buildMessage({ from: "app@example.com" }), { headers: { "content-length": String(MAX_RELAY_MESSAGE_BYTES + 1) } });
    expectError(await relay(declared), 413, "too_large");
    expect((await relay(relayRequest(message({ text: "small" })))).status).toBe(200);
  });

  it("answers 503 when a directory shard cannot be read, and refuses no recipient for it", async () => {
    const snapshot = await snapshotOf({
      domains: ["example.com"],
      recipients: ["alice@example.com", `only-here-${crypto.randomUUID()}@example.com`],
      policies: { "relay-clients": [await relayClient()] },
    });
    expect((await publish(snapshot)).status).toBe("committed");
    for (const hash of snapshot.manifest.recipients.shards) await env.DIRECTORY.delete(blobKey(hash));
    const m = message();
    const result = await relay(relayRequest(m));
    expectError(result, 503, "unavailable");
    expect(result.body.error?.message).toMatch(/directory/);
    expect(result.headers.get("retry-after")).toBe("30");
    expect(await storedBySubject(m.subject)).toBe(0);
  });

  it("answers 503 with Retry-After when the edge cannot keep rate limits", async () => {
    const result = await relay(relayRequest(message()), {}, { RELAY_LIMITER: undefined });
    expectError(result, 503, "not_configured");
    expect(result.headers.get("retry-after")).toBe("30");
  });
});

describe("relay: submission hygiene", () => {
  const EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

  it("refuses malware and blocked attachments (400), and tracks the refusal", async () => {
    const m = message({ attachments: [{ filename: "invoice.txt", content: btoa(EICAR) }] });
    const virus = await relay(relayRequest(m));
    expectError(virus, 400, "message_rejected");
    expect(virus.body.error?.message).toMatch(/malware/);
    expect(virus.events).toMatchObject([{ kind: "decision", outcome: "rejected", detail: expect.stringMatching(/^relay client sharepoint/) }]);
    const exe = await relay(
      relayRequest(message({ attachments: [{ filename: "setup.exe", content: btoa("MZ\x90\x00 not really"), contentType: "application/octet-stream" }] })),
    );
    expectError(exe, 400, "message_rejected");
    expect(exe.body.error?.message).toMatch(/attachment/);
    expect(await storedBySubject(m.subject)).toBe(0);
  });

  it("adds Message-ID and Date to a raw message without them, and takes Bcc out", async () => {
    const subject = `raw no id ${crypto.randomUUID()}`;
    const raw = [
      "From: App <app@example.com>",
      "To: alice@example.com",
      "Bcc: bob@example.com",
      `Subject: ${subject}`,
      "MIME-Version: 1.0",
      "Content-Type: text/plain",
      "",
      "Sent from a script on a Unix box: bare LF line ends.",
      "",
    ].join("\n");
    const result = await relay(relayRequest(raw));
    expect(result.status).toBe(200);
    expect(result.body.recipients?.map((r) => [r.address, r.status])).toEqual([
      ["alice@example.com", "delivered"],
      ["bob@example.com", "delivered"],
    ]);
    const stored = await storedRaw(subject);
    const text = new TextDecoder().decode(stored.raw);
    expect(text).toMatch(new RegExp(`^Message-ID: ${result.body.messageId!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\r\n`, "m"));
    expect(text).toMatch(/^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000\r\n/m);
    expect(text).not.toMatch(/^Bcc:/im);
    expect(text).not.toMatch(/[^\r]\n/);
    expect(stored.to).toEqual(["alice@example.com", "bob@example.com"]);
  });

  it("keeps a raw message's own Message-ID and Date", async () => {
    const raw = buildMessage({ from: "app@example.com", subject: `own id ${crypto.randomUUID()}` });
    const result = await relay(relayRequest(raw));
    expect(result.body.messageId).toBe(/^Message-ID: (.*)$/m.exec(raw)![1]!.trim());
    const text = new TextDecoder().decode((await storedRaw(/^Subject: (.*)$/m.exec(raw)![1]!.trim())).raw);
    expect(text.match(/^Message-ID:/gim)).toHaveLength(1);
    expect(text.match(/^Date:/gim)).toHaveLength(1);
  });

  it("takes envelope recipients from the to parameter of a raw message", async () => {
    const subject = `raw envelope ${crypto.randomUUID()}`;
    const result = await relay(relayRequest(buildMessage({ from: "app@example.com", to: "list@example.com", subject }), { query: "?to=bob@example.com" }));
    expect(result.body.recipients?.map((r) => r.address)).toEqual(["bob@example.com"]);
    expect((await storedRaw(subject)).to).toEqual(["bob@example.com"]);
  });
});
