import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { TokenRecord } from "../../../workers/hub/auth/tokens.ts";
import { api } from "./helpers.ts";
import { expiredToken, issueToken, revokedToken, sha256Hex } from "./tokens-helpers.ts";

const json = { "content-type": "application/json" };

function create(body: unknown, token?: string): Promise<Response> {
  return api("/api/v1/tokens", { method: "POST", headers: json, body: JSON.stringify(body), token });
}

async function lastUsedAt(id: string): Promise<string | null> {
  return (await env.DB.prepare("SELECT last_used_at FROM api_tokens WHERE id = ?").bind(id).first<{ last_used_at: string | null }>())!.last_used_at;
}

describe("API tokens", () => {
  it("creates a token with a role, shows it once as pc_ and 32 random bytes, and stores only its SHA-256", async () => {
    const res = await create({ name: "monitoring", role: "read-only" });
    expect(res.status).toBe(201);
    const created = (await res.json()) as TokenRecord & { token: string };
    expect(created.token).toMatch(/^pc_[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ name: "monitoring", role: "read-only", bootstrap: false, createdBy: "bootstrap", expiresAt: null, revoked: false });

    const row = await env.DB.prepare("SELECT * FROM api_tokens WHERE id = ?").bind(created.id).first<Record<string, unknown>>();
    expect(row!.token_hash).toBe(await sha256Hex(created.token));
    expect(JSON.stringify(row)).not.toContain(created.token.slice(3));

    // Never shown again: not in the list, not in the token's own view.
    const list = await api("/api/v1/tokens");
    const listed = await list.text();
    expect(listed).not.toContain(created.token.slice(3));
    expect(listed).not.toContain(row!.token_hash as string);
    const one = (await (await api(`/api/v1/tokens/${created.id}`)).json()) as Record<string, unknown>;
    expect(one).not.toHaveProperty("token");
    expect(one).not.toHaveProperty("tokenHash");
  });

  it("gives two tokens created alike different values", async () => {
    const [a, b] = await Promise.all([issueToken("operator"), issueToken("operator")]);
    expect(a.token).not.toBe(b.token);
    expect(a.id).not.toBe(b.id);
  });

  it("authenticates with a created token and enforces its role", async () => {
    const reader = await issueToken("read-only");
    expect((await api("/api/v1/domains", { token: reader.token })).status).toBe(200);
    const denied = await api("/api/v1/domains/reader.test", { method: "PUT", token: reader.token });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ error: { code: "forbidden", message: expect.stringMatching(/admin/) } });
    expect((await api("/api/v1/domains/reader.test")).status).toBe(404);
  });

  it("lists every token, the bootstrap token included, without secrets, page by page", async () => {
    for (const name of ["list-1", "list-2", "list-3"]) await issueToken("read-only", { name });
    const seen: TokenRecord[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (await api(`/api/v1/tokens?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`)).json()) as {
        items: TokenRecord[];
        nextCursor: string | null;
      };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen[0]).toMatchObject({ id: "bootstrap", name: "bootstrap", role: "admin", bootstrap: true, revoked: false });
    expect(seen.map((t) => t.name)).toEqual(expect.arrayContaining(["list-1", "list-2", "list-3"]));
    expect(new Set(seen.map((t) => t.id)).size).toBe(seen.length);
    for (const token of seen)
      expect(Object.keys(token).sort()).toEqual([
        "bootstrap",
        "createdAt",
        "createdBy",
        "expiresAt",
        "id",
        "lastUsedAt",
        "name",
        "revoked",
        "revokedAt",
        "revokedBy",
        "role",
      ]);
  });

  it("revokes a token at once, records who revoked it, and keeps it listed as revoked", async () => {
    const admin = await issueToken("admin", { name: "revoker" });
    const victim = await issueToken("operator", { name: "victim" });
    expect((await api("/api/v1/hubs", { token: victim.token })).status).toBe(200);
    const res = await api(`/api/v1/tokens/${victim.id}`, { method: "DELETE", token: admin.token });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: victim.id, revoked: true, revokedBy: admin.id, revokedAt: expect.any(String) });
    const refused = await api("/api/v1/hubs", { token: victim.token });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: "unauthorized", message: expect.stringMatching(/revoked/) } });
    // Revoking again changes nothing.
    const again = (await (await api(`/api/v1/tokens/${victim.id}`, { method: "DELETE" })).json()) as TokenRecord;
    expect(again.revokedBy).toBe(admin.id);
  });

  it("refuses a revoked token and an expired one with 401", async () => {
    for (const issued of [await revokedToken(), await expiredToken()]) {
      const res = await api("/api/v1/domains", { token: issued.token });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/invalid_token/);
    }
  });

  it("takes a token with an expiry until that time", async () => {
    const soon = await issueToken("read-only", { expiresAt: new Date(Date.now() + 60_000).toISOString() });
    expect((await api("/api/v1/domains", { token: soon.token })).status).toBe(200);
  });

  it("cannot revoke the bootstrap token (the ADMIN_TOKEN secret)", async () => {
    const res = await api("/api/v1/tokens/bootstrap", { method: "DELETE" });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: "bootstrap_token" } });
    expect((await api("/api/v1/domains")).status).toBe(200);
  });

  it.each([
    ["no name", { role: "admin" }],
    ["an empty name", { name: "  ", role: "admin" }],
    ["a long name", { name: "x".repeat(101), role: "admin" }],
    ["an unknown role", { name: "x", role: "superuser" }],
    ["no role", { name: "x" }],
    ["an expiry in the past", { name: "x", role: "admin", expiresAt: "2020-01-01T00:00:00Z" }],
    ["an expiry that is not a date", { name: "x", role: "admin", expiresAt: "next tuesday" }],
    ["an unknown field", { name: "x", role: "admin", token: "pc_mine" }],
  ])("refuses a token with %s (400)", async (_, body) => {
    const res = await create(body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "bad_request", message: expect.any(String) } });
  });

  it("refuses a body that is not JSON (400) or too large (413)", async () => {
    expect((await api("/api/v1/tokens", { method: "POST", headers: json, body: "{name:" })).status).toBe(400);
    const large = await create({ name: "x", role: "admin", pad: "x".repeat(8 * 1024) });
    expect(large.status).toBe(413);
  });

  it("answers 404 for an unknown token", async () => {
    expect((await api("/api/v1/tokens/no-such-token")).status).toBe(404);
    expect((await api("/api/v1/tokens/no-such-token", { method: "DELETE" })).status).toBe(404);
  });

  it("lets only admin tokens manage tokens", async () => {
    for (const role of ["read-only", "operator"] as const) {
      const issued = await issueToken(role);
      expect((await api("/api/v1/tokens", { token: issued.token })).status).toBe(403);
      expect((await create({ name: "escalate", role: "admin" }, issued.token)).status).toBe(403);
      expect((await api(`/api/v1/tokens/${issued.id}`, { method: "DELETE", token: issued.token })).status).toBe(403);
    }
  });

  it("records when a token was last used, at most once a minute", async () => {
    const issued = await issueToken("read-only");
    expect(await lastUsedAt(issued.id)).toBeNull();
    expect((await api("/api/v1/domains", { token: issued.token })).status).toBe(200);
    const first = await vi.waitFor(async () => {
      const at = await lastUsedAt(issued.id);
      expect(at).not.toBeNull();
      return at!;
    });
    expect(Math.abs(Date.parse(first) - Date.now())).toBeLessThan(30_000);
    for (let i = 0; i < 3; i++) expect((await api("/api/v1/domains", { token: issued.token })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await lastUsedAt(issued.id)).toBe(first);

    // A minute later (moved back in D1 here), the next use writes it again.
    const old = new Date(Date.now() - 61_000).toISOString();
    await env.DB.prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ?").bind(old, issued.id).run();
    expect((await api("/api/v1/domains", { token: issued.token })).status).toBe(200);
    await vi.waitFor(async () => expect(Date.parse((await lastUsedAt(issued.id))!)).toBeGreaterThan(Date.parse(old) + 30_000));
  });

  it("records when the bootstrap token was used", async () => {
    expect((await api("/api/v1/domains")).status).toBe(200);
    await vi.waitFor(async () => expect(await lastUsedAt("bootstrap")).not.toBeNull());
  });

  it("never logs a token in clear", async () => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((level) => vi.spyOn(console, level).mockImplementation(capture));
    try {
      const created = (await (await create({ name: "logged?", role: "read-only" })).json()) as { token: string; id: string };
      await api("/api/v1/tokens", { method: "POST", headers: json, body: JSON.stringify({ name: "escalate", role: "admin" }), token: created.token });
      await api(`/api/v1/tokens/${created.id}`, { method: "DELETE" });
      await api("/api/v1/domains", { token: created.token });
      await api("/api/v1/domains", { token: `${created.token}x` });
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect(line).not.toContain(created.token.slice(3));
        expect(line).not.toContain(env.ADMIN_TOKEN);
      }
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
