import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Delivery, HubIngestApi } from "../../../shared/delivery.ts";
import { buildMessage, bytesOf } from "../../helpers/mail.ts";
import { api } from "./helpers.ts";

const TOKEN = env.ADMIN_TOKEN;
const hub = exports.HubIngest as unknown as HubIngestApi;

function delivery(raw: Uint8Array | string, subject: string): Delivery {
  return {
    deliveryId: crypto.randomUUID(),
    edgeId: "edge-test",
    envelope: { from: "sender@example.net", to: ["alice@example.com"] },
    raw: bytesOf(raw),
    receivedAt: new Date().toISOString(),
    subject,
    messageId: "<m@example.net>",
    verdict: { action: "accept", scl: 0, agents: [{ agent: "limits", result: "pass", reason: "ok" }] },
  };
}

describe("authentication", () => {
  it("serves health without a token", async () => {
    const res = await api("/api/v1/health", { token: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok" });
  });

  it.each([
    ["no header", null],
    ["a wrong token", "wrong-token"],
    ["a token one character short", TOKEN.slice(0, -1)],
  ])("answers 401 with a JSON error for %s", async (_, token) => {
    const res = await api("/api/v1/messages", { token });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("unauthorized");
    expect(body.error.message.length).toBeGreaterThan(0);
  });

  it("refuses a non-bearer scheme", async () => {
    const res = await exports.default.fetch(new Request("http://hub/api/v1/messages", { headers: { authorization: `Basic ${btoa(`admin:${TOKEN}`)}` } }));
    expect(res.status).toBe(401);
  });

  it("protects unknown routes under /api/v1 too, and 404s them with a JSON error once authenticated", async () => {
    expect((await api("/api/v1/nothing-here", { token: null })).status).toBe(401);
    const res = await api("/api/v1/nothing-here");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
  });
});

describe("messages API", () => {
  it("lists stored messages newest first with cursor pagination", async () => {
    const ids: number[] = [];
    for (const subject of ["first", "second", "third"]) {
      const stored = await hub.ingest(delivery(buildMessage({ subject }), subject));
      if (stored.status !== "stored") throw new Error(`not stored: ${JSON.stringify(stored)}`);
      ids.push(stored.id);
    }
    const page1 = (await (await api("/api/v1/messages?limit=2")).json()) as { items: { id: number; subject: string }[]; nextCursor: string | null };
    expect(page1.items.map((m) => m.subject)).toEqual(["third", "second"]);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = (await (await api(`/api/v1/messages?limit=2&cursor=${page1.nextCursor}`)).json()) as typeof page1;
    expect(page2.items.map((m) => m.subject)).toEqual(["first"]);
    expect(page2.nextCursor).toBeNull();

    const one = (await (await api(`/api/v1/messages/${ids[0]}`)).json()) as Record<string, unknown>;
    expect(one).toMatchObject({
      id: ids[0],
      subject: "first",
      from: "sender@example.net",
      to: ["alice@example.com"],
      edgeId: "edge-test",
      action: "accept",
      scl: 0,
    });
    expect(one).toHaveProperty("deliveryId");
    expect(one).toHaveProperty("receivedAt");
    expect(one).not.toHaveProperty("r2Key");
  });

  it("returns the exact bytes received, 8-bit and all", async () => {
    const raw = new Uint8Array([...bytesOf(buildMessage({ subject: "bytes" })), 0xff, 0x00, 0x80, 0x0d, 0x0a]);
    const stored = await hub.ingest(delivery(raw, "bytes"));
    if (stored.status !== "stored") throw new Error("not stored");
    const res = await api(`/api/v1/messages/${stored.id}/raw`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("message/rfc822");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(raw);
  });

  it("keeps quarantined mail apart, lists it by folder, and serves tagged copies on request", async () => {
    const raw = bytesOf(buildMessage({ subject: "suspicious" }));
    const held = await hub.ingest({
      ...delivery(raw, "suspicious"),
      verdict: { action: "quarantine", scl: 6, agents: [], tags: { "X-Portcullis-SCL": "6", "X-Portcullis-Status": "quarantined" } },
    });
    if (held.status !== "stored") throw new Error("not stored");
    const stored = await env.DB.prepare("SELECT r2_key FROM messages WHERE id = ?").bind(held.id).first<{ r2_key: string }>();
    expect(stored?.r2_key).toMatch(/^quarantine\//);
    const quarantine = (await (await api("/api/v1/messages?folder=quarantine")).json()) as { items: { id: number; action: string }[] };
    expect(quarantine.items.map((m) => m.id)).toEqual([held.id]);
    const inbox = (await (await api("/api/v1/messages?folder=inbox")).json()) as { items: { id: number }[] };
    expect(inbox.items.map((m) => m.id)).not.toContain(held.id);
    expect((await api("/api/v1/messages?folder=spam")).status).toBe(400);

    const exact = new Uint8Array(await (await api(`/api/v1/messages/${held.id}/raw`)).arrayBuffer());
    expect(exact).toEqual(raw);
    const tagged = new TextDecoder().decode(await (await api(`/api/v1/messages/${held.id}/raw?tagged=true`)).arrayBuffer());
    expect(tagged).toBe(`X-Portcullis-SCL: 6\r\nX-Portcullis-Status: quarantined\r\n${new TextDecoder().decode(raw)}`);
  });

  it("refuses a hand-over whose verdict is neither accept nor quarantine", async () => {
    const bad = { ...delivery("x", "x"), verdict: { action: "reject" as unknown as "accept", scl: 0, agents: [] } };
    expect(await hub.ingest(bad)).toEqual({ status: "refused", error: "verdict.action must be accept or quarantine" });
  });

  it.each([
    ["/api/v1/messages?limit=0", 400],
    ["/api/v1/messages?limit=501", 400],
    ["/api/v1/messages?limit=ten", 400],
    ["/api/v1/messages?cursor=%%%", 400],
    ["/api/v1/messages?cursor=bm9wZQ", 400],
    ["/api/v1/messages/abc", 400],
    ["/api/v1/messages/999999", 404],
    ["/api/v1/messages/999999/raw", 404],
  ])("answers %s with %i and a JSON error", async (path, status) => {
    const res = await api(path);
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(typeof body.error.code).toBe("string");
    expect(typeof body.error.message).toBe("string");
  });
});

describe("sync", () => {
  it("needs the admin token", async () => {
    expect((await api("/api/v1/sync", { method: "POST", token: null })).status).toBe(401);
  });
});
