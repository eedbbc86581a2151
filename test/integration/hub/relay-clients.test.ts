import { OpenAPIHono } from "@hono/zod-openapi";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../../shared/directory/hash.ts";
import type { HubEnv } from "../../../workers/hub/app.ts";
import { requireToken } from "../../../workers/hub/api/auth.ts";
import { onError } from "../../../workers/hub/api/errors.ts";
import { relayClients } from "../../../workers/hub/relay/clients.ts";
import { api, expectSyncRequested } from "./helpers.ts";

/**
 * The relay-clients router, mounted as the hub's app mounts the admin API (token check in front,
 * the API's error handler), so these tests do not depend on where app.ts puts it.
 */
const app = new OpenAPIHono<HubEnv>();
app.onError(onError);
app.use("/api/v1/*", requireToken);
app.route("/api/v1/relay-clients", relayClients);

interface ClientView {
  id: string;
  name: string;
  allowedIps: string[];
  allowedSenders: string[];
  ratePerMinute: number;
  maxMessageBytes: number | null;
  createdAt: string | null;
  key?: string;
}

async function call<T = ClientView>(
  method: string,
  path: string,
  body?: unknown,
  token: string | null = env.ADMIN_TOKEN,
): Promise<{ status: number; body: T & { error?: { code: string; message: string } } }> {
  const headers = new Headers({ "content-type": "application/json" });
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`http://hub/api/v1/relay-clients${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    }),
    env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, body: text === "" ? ({} as T) : JSON.parse(text) };
}

const SHAREPOINT = { name: "SharePoint", allowedIps: ["10.20.0.0/16"], allowedSenders: ["sharepoint@example.com", "@intranet.example.com"] };

/** The relay-clients policy as stored in D1 (what EdgeSync publishes). */
async function storedPolicy(): Promise<{ id: string; keyHash: string }[]> {
  const row = await env.DB.prepare("SELECT body FROM policies WHERE name = 'relay-clients'").first<{ body: string }>();
  return row === null ? [] : JSON.parse(row.body);
}

describe("relay clients API", () => {
  it("creates a client and shows its key once; only the key's SHA-256 is stored", async () => {
    const created = await call("POST", "", { ...SHAREPOINT, ratePerMinute: 120 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ...SHAREPOINT, ratePerMinute: 120, maxMessageBytes: null, id: expect.any(String), createdAt: expect.any(String) });
    const key = created.body.key!;
    expect(key).toMatch(/^pcr_[A-Za-z0-9_-]{43}$/);
    const stored = await env.DB.prepare("SELECT body FROM policies WHERE name = 'relay-clients'").first<{ body: string }>();
    expect(stored!.body).not.toContain(key);
    expect((await storedPolicy()).find((c) => c.id === created.body.id)?.keyHash).toBe(await sha256Hex(key));
    // The policy the admin API shows is the same document, valid as a policy.
    const policy = await api("/api/v1/policies/relay-clients");
    expect(policy.status).toBe(200);
  });

  it("never shows a key or its hash once created: not in the list, not for one client", async () => {
    const created = await call("POST", "", SHAREPOINT);
    const key = created.body.key!;
    const hash = await sha256Hex(key);
    const list = await call<{ items: ClientView[] }>("GET", "");
    expect(list.status).toBe(200);
    expect(list.body.items.map((c) => c.id)).toContain(created.body.id);
    const one = await call("GET", `/${created.body.id}`);
    expect(one.body).toEqual({ ...created.body, key: undefined });
    for (const text of [JSON.stringify(list.body), JSON.stringify(one.body)]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(hash);
      expect(text).not.toMatch(/keyHash|"key"/);
    }
  });

  it("changes a client's ranges, senders, rate and size limit, and keeps its key", async () => {
    const created = await call("POST", "", SHAREPOINT);
    const before = (await storedPolicy()).find((c) => c.id === created.body.id)!.keyHash;
    const changed = await call("PATCH", `/${created.body.id}`, { allowedIps: ["10.20.0.0/16", "2001:db8::/32"], ratePerMinute: 5, maxMessageBytes: 1_048_576 });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ allowedIps: ["10.20.0.0/16", "2001:db8::/32"], ratePerMinute: 5, maxMessageBytes: 1_048_576, name: "SharePoint" });
    const cleared = await call("PATCH", `/${created.body.id}`, { maxMessageBytes: null });
    expect(cleared.body.maxMessageBytes).toBeNull();
    expect((await storedPolicy()).find((c) => c.id === created.body.id)!.keyHash).toBe(before);
  });

  it("gives a client a new key: the old hash is gone, the new one stored", async () => {
    const created = await call("POST", "", SHAREPOINT);
    const rotated = await call("POST", `/${created.body.id}/key`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.key).toMatch(/^pcr_/);
    expect(rotated.body.key).not.toBe(created.body.key);
    const hash = (await storedPolicy()).find((c) => c.id === created.body.id)!.keyHash;
    expect(hash).toBe(await sha256Hex(rotated.body.key!));
  });

  it("deletes a client", async () => {
    const created = await call("POST", "", SHAREPOINT);
    expect((await call("DELETE", `/${created.body.id}`)).status).toBe(204);
    expect((await call("GET", `/${created.body.id}`)).status).toBe(404);
    expect((await call("DELETE", `/${created.body.id}`)).status).toBe(404);
    expect((await storedPolicy()).some((c) => c.id === created.body.id)).toBe(false);
  });

  it("loses no client when many are created at once", async () => {
    const before = (await storedPolicy()).length;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => call("POST", "", { ...SHAREPOINT, name: `app ${i}` })));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    const stored = await storedPolicy();
    expect(stored).toHaveLength(before + 8);
    for (const r of results) expect(stored.some((c) => c.id === r.body.id)).toBe(true);
  });

  it.each([
    ["no allowed ranges", { ...SHAREPOINT, allowedIps: [] }, "bad_request", /allowedIps/],
    ["no allowed senders", { ...SHAREPOINT, allowedSenders: [] }, "bad_request", /allowedSenders/],
    ["a malformed range", { ...SHAREPOINT, allowedIps: ["10.0.0.0/33"] }, "invalid_relay_client", /allowedIps\.0/],
    ["a malformed sender", { ...SHAREPOINT, allowedSenders: ["not a sender"] }, "invalid_relay_client", /allowedSenders\.0/],
    ["a rate of zero", { ...SHAREPOINT, ratePerMinute: 0 }, "bad_request", /ratePerMinute/],
    ["a size limit above the relay's", { ...SHAREPOINT, maxMessageBytes: 30 * 1024 * 1024 }, "bad_request", /maxMessageBytes/],
    ["a key in the body", { ...SHAREPOINT, keyHash: "a".repeat(64) }, "bad_request", /keyHash/],
    ["text that is not JSON", "name=SharePoint", "bad_request", /JSON/],
  ])("refuses %s (400)", async (_what, body, code, message) => {
    const result = await call("POST", "", body);
    expect(result.status).toBe(400);
    expect(result.body.error?.code).toBe(code);
    expect(result.body.error?.message).toMatch(message);
  });

  it("needs the admin token, and answers 404 for an unknown client", async () => {
    expect((await call("GET", "", undefined, null)).status).toBe(401);
    expect((await call("POST", "", SHAREPOINT, "wrong-token-0123456789")).status).toBe(401);
    expect((await call("PATCH", "/no-such-client", { ratePerMinute: 5 })).status).toBe(404);
    expect((await call("POST", "/no-such-client/key")).status).toBe(404);
  });
});

describe("relay clients in the hub's admin API", () => {
  it("are served at /api/v1/relay-clients, creating for admins only, listing for read-only tokens too", async () => {
    const created = await api("/api/v1/relay-clients", { method: "POST", body: JSON.stringify(SHAREPOINT) });
    expect(created.status).toBe(201);
    const { key, id } = (await created.json()) as ClientView;
    expect(key).toMatch(/^pcr_/);
    const minted = await api("/api/v1/tokens", { method: "POST", body: JSON.stringify({ name: "viewer", role: "read-only" }) });
    expect(minted.status).toBe(201);
    const viewer = ((await minted.json()) as { token: string }).token;
    const list = await api("/api/v1/relay-clients", { token: viewer });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { items: ClientView[] }).items.map((c) => c.id)).toContain(id);
    expect((await api("/api/v1/relay-clients", { method: "POST", body: JSON.stringify(SHAREPOINT), token: viewer })).status).toBe(403);
    expect((await api(`/api/v1/relay-clients/${id}`, { method: "DELETE", token: viewer })).status).toBe(403);
    // The audit log names the change, never the key.
    const audit = await (await api("/api/v1/audit")).text();
    expect(audit).toContain(`created relay client \\"SharePoint\\"`);
    expect(audit).not.toContain(key!);
    const doc = (await (await api("/api/v1/openapi.json")).json()) as { paths: Record<string, Record<string, { "x-portcullis-role"?: string }>> };
    expect(doc.paths["/api/v1/relay-clients"]?.post?.["x-portcullis-role"]).toBe("admin");
    expect(doc.paths["/api/v1/relay-clients"]?.get?.["x-portcullis-role"]).toBe("read-only");
  });
});

describe("relay clients reach the edges", () => {
  it("asks for a sync after every change", async () => {
    let id = "";
    await expectSyncRequested(async () => {
      id = (await call("POST", "", SHAREPOINT)).body.id;
    });
    await expectSyncRequested(async () => {
      await call("PATCH", `/${id}`, { ratePerMinute: 7 });
    });
    await expectSyncRequested(async () => {
      await call("DELETE", `/${id}`);
    });
  });

  it("an edge knows a new key after the sync, and forgets a deleted one", async () => {
    // The third test edge, reached over signed HTTPS; its relay answers at https://edge3.example.com/v1/relay.
    expect(
      (await api("/api/v1/edges/edge-relay", { method: "PUT", body: JSON.stringify({ transport: "https", url: "https://edge3.example.com" }) })).status,
    ).toBe(201);
    const created = await call("POST", "", SHAREPOINT);
    const key = created.body.key!;
    const submit = (k: string) =>
      fetch("https://edge3.example.com/v1/relay", {
        method: "POST",
        // A source outside 10.20.0.0/16: a known key is refused for its address (403), an unknown one as unknown (401).
        headers: { authorization: `Bearer ${k}`, "cf-connecting-ip": "192.0.2.7", "content-type": "application/json" },
        body: JSON.stringify({ from: "sharepoint@example.com", to: "alice@example.com", text: "hi" }),
      });
    const sync = async () => expect((await api("/api/v1/sync", { method: "POST" })).status).toBe(200);
    await sync();
    const known = await submit(key);
    expect(known.status).toBe(403);
    expect(await known.json()).toMatchObject({ error: { code: "ip_not_allowed" } });
    expect((await submit("pcr_someone-elses-key-0123456789")).status).toBe(401);

    await call("DELETE", `/${created.body.id}`);
    await sync();
    const gone = await submit(key);
    expect(gone.status).toBe(401);
    expect(await gone.json()).toMatchObject({ error: { code: "unauthorized" } });
  });
});
