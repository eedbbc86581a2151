import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectNoSyncRequested, expectSyncRequested } from "./helpers.ts";

const SECRET = "route-secret-0123456789abcdef";

function put(domain: string, body?: unknown): Promise<Response> {
  return api(`/api/v1/domains/${domain}`, {
    method: "PUT",
    ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
}

async function storedSecret(domain: string): Promise<string | null> {
  return (await env.DB.prepare("SELECT route_secret FROM domains WHERE name = ?").bind(domain).first<{ route_secret: string | null }>())!.route_secret;
}

describe("domain routes in the domains API", () => {
  it("creates a domain with a webhook route and never shows the secret, only that there is one", async () => {
    const created = await put("route-hook.test", { route: { type: "webhook", url: "https://receiver.example/mail", secret: SECRET } });
    expect(created.status).toBe(201);
    const text = await created.text();
    expect(text).not.toContain(SECRET);
    expect(JSON.parse(text)).toMatchObject({ name: "route-hook.test", route: { type: "webhook", url: "https://receiver.example/mail", hasSecret: true } });

    for (const path of ["/api/v1/domains/route-hook.test", "/api/v1/domains?limit=100"]) {
      const res = await api(path);
      expect(res.status).toBe(200);
      const body = await res.text();
      expect(body).not.toContain(SECRET);
      expect(body).toContain('"hasSecret":true');
    }
    expect(await storedSecret("route-hook.test")).toBe(SECRET);
  });

  it("keeps the stored secret when an update leaves it out, and clears it when the route stops being a webhook", async () => {
    expect((await put("route-keep.test", { route: { type: "webhook", url: "https://a.example/hook", secret: SECRET } })).status).toBe(201);
    const moved = await put("route-keep.test", { route: { type: "webhook", url: "https://b.example/hook" } });
    expect(moved.status).toBe(200);
    expect(await moved.json()).toMatchObject({ route: { type: "webhook", url: "https://b.example/hook", hasSecret: true } });
    expect(await storedSecret("route-keep.test")).toBe(SECRET);

    // A PUT without a body only makes sure the domain is accepted: the route stays.
    expect(await (await put("route-keep.test")).json()).toMatchObject({ route: { type: "webhook", url: "https://b.example/hook" } });

    expect(await (await put("route-keep.test", { route: { type: "forward", address: "Archive@Elsewhere.Example" } })).json()).toMatchObject({
      route: { type: "forward", address: "archive@elsewhere.example" },
    });
    expect(await storedSecret("route-keep.test")).toBeNull();
    expect(await (await put("route-keep.test", { route: { type: "mailbox" } })).json()).toMatchObject({ route: { type: "mailbox" } });
    expect(await (await api("/api/v1/domains/route-keep.test")).json()).toMatchObject({ route: { type: "mailbox" } });
  });

  it("gives a new domain the mailbox route", async () => {
    expect(await (await put("route-default.test")).json()).toMatchObject({ route: { type: "mailbox" } });
  });

  it.each([
    ["a webhook without a secret on a domain that has none", { type: "webhook", url: "https://a.example/hook" }],
    ["plain http to another host", { type: "webhook", url: "http://a.example/hook", secret: SECRET }],
    ["a URL with credentials", { type: "webhook", url: "https://user:pw@a.example/hook", secret: SECRET }],
    ["a relative URL", { type: "webhook", url: "/hook", secret: SECRET }],
    ["a short secret", { type: "webhook", url: "https://a.example/hook", secret: "short" }],
    ["a secret with spaces", { type: "webhook", url: "https://a.example/hook", secret: "has spaces 0123456789abcdef" }],
    ["an unknown type", { type: "smtp", host: "mx.example" }],
    ["an unknown field", { type: "mailbox", url: "https://a.example" }],
    ["a forward to something that is not an address", { type: "forward", address: "not an address" }],
  ])("refuses %s with 400 and stores nothing", async (_, route) => {
    const res = await put("route-bad.test", { route });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_route", message: expect.any(String) } });
    expect((await api("/api/v1/domains/route-bad.test")).status).toBe(404);
  });

  it("takes plain http to localhost (a local receiver), and refuses a body that is not JSON", async () => {
    expect((await put("route-local.test", { route: { type: "webhook", url: "http://localhost:8080/hook", secret: SECRET } })).status).toBe(201);
    const res = await api("/api/v1/domains/route-local.test", { method: "PUT", body: "{route:" });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "bad_request" } });
  });

  it("answers 404 for a domain that is not accepted", async () => {
    const res = await api("/api/v1/domains/never-accepted.test");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
  });

  it("asks for a sync when a routed domain is added, and not when only its route changes", async () => {
    await expectSyncRequested(async () => expect((await put("route-sync.test", { route: { type: "mailbox" } })).status).toBe(201));
    await expectNoSyncRequested(async () =>
      expect((await put("route-sync.test", { route: { type: "webhook", url: "https://a.example/h", secret: SECRET } })).status).toBe(200),
    );
  });

  it("needs the admin token to read or set a route", async () => {
    expect((await api("/api/v1/domains/route-hook.test", { token: null })).status).toBe(401);
    expect((await api("/api/v1/domains/route-x.test", { method: "PUT", token: null, body: JSON.stringify({ route: { type: "mailbox" } }) })).status).toBe(401);
  });
});
