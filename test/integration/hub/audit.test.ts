import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { api } from "./helpers.ts";
import { issueToken } from "./tokens-helpers.ts";

interface Entry {
  id: number;
  at: string;
  actor: { id: string; name: string; role: string; accessIdentity: string | null };
  method: string;
  path: string;
  summary: string;
  objectId: string | null;
  status: number;
}

interface Page {
  items: Entry[];
  nextCursor: string | null;
}

const json = { "content-type": "application/json" };

async function auditPage(query = ""): Promise<Page> {
  const res = await api(`/api/v1/audit${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Page;
}

async function entriesFor(objectId: string): Promise<Entry[]> {
  return (await auditPage("?limit=500")).items.filter((e) => e.objectId === objectId);
}

describe("audit log", () => {
  it("records a change with who made it (token id and name, never the token), what, when and the status", async () => {
    const admin = await issueToken("admin", { name: "ops-alice" });
    const before = new Date().toISOString();
    expect((await api("/api/v1/domains/audited.test", { method: "PUT", token: admin.token })).status).toBe(201);
    const [entry] = await entriesFor("audited.test");
    expect(entry).toMatchObject({
      actor: { id: admin.id, name: "ops-alice", role: "admin", accessIdentity: null },
      method: "PUT",
      path: "/api/v1/domains/audited.test",
      summary: "accepted domain audited.test",
      objectId: "audited.test",
      status: 201,
    });
    expect(entry!.at >= before).toBe(true);
    const stored = await env.DB.prepare("SELECT * FROM audit_log WHERE id = ?").bind(entry!.id).first();
    expect(JSON.stringify(stored)).not.toContain(admin.token.slice(3));
  });

  it("records token creation and revocation", async () => {
    const created = await issueToken("operator", { name: "short-lived" });
    expect((await api(`/api/v1/tokens/${created.id}`, { method: "DELETE" })).status).toBe(200);
    const entries = await entriesFor(created.id);
    expect(entries.map((e) => [e.method, e.summary, e.actor.id, e.status])).toEqual([
      ["DELETE", 'revoked operator token "short-lived"', "bootstrap", 200],
      ["POST", 'created operator token "short-lived"', "bootstrap", 201],
    ]);
    for (const e of entries) expect(JSON.stringify(e)).not.toContain(created.token.slice(3));
  });

  it("records nothing for reads, refused requests or failed changes", async () => {
    const reader = await issueToken("read-only", { name: "reader" });
    const before = (await auditPage("?limit=500")).items.length;
    await api("/api/v1/domains");
    await api("/api/v1/domains/never.test", { token: reader.token, method: "PUT" }); // 403
    await api("/api/v1/domains/never.test", { method: "PUT", token: null }); // 401
    await api("/api/v1/domains/never.test", { method: "DELETE" }); // 404
    await api("/api/v1/domains/never.test", { method: "PUT", headers: json, body: "{route:" }); // 400
    const after = (await auditPage("?limit=500")).items;
    expect(after.length).toBe(before);
    expect(after.some((e) => e.path.includes("never.test"))).toBe(false);
  });

  it("masks recipient addresses in the path, the summary and the object id", async () => {
    await api("/api/v1/domains/masked.test", { method: "PUT" });
    const imported = await api("/api/v1/recipients", { method: "POST", headers: json, body: JSON.stringify([{ address: "secret.person@masked.test" }]) });
    expect(await imported.json()).toMatchObject({ created: 1 });
    expect((await api("/api/v1/recipients/Secret.Person%40masked.test", { method: "DELETE" })).status).toBe(204);
    const entries = (await auditPage("?limit=20")).items;
    const deletion = entries.find((e) => e.method === "DELETE" && e.path.startsWith("/api/v1/recipients/"));
    expect(deletion).toMatchObject({ path: "/api/v1/recipients/S…@masked.test", objectId: "s…@masked.test", status: 204 });
    const importEntry = entries.find((e) => e.method === "POST" && e.path === "/api/v1/recipients");
    expect(importEntry?.summary).toBe("imported recipients: 1 created, 0 updated, 0 unchanged, 0 rejected");
    expect(JSON.stringify(entries)).not.toMatch(/secret\.person/i);
  });

  it("records an import that failed part way, with the status it got", async () => {
    await api("/api/v1/domains/partial.test", { method: "PUT" });
    // A CSV whose second half is malformed: the first batch is applied, then the import stops with 400.
    const rows = Array.from({ length: 2_500 }, (_, i) => `u${i}@partial.test`).join("\n");
    const res = await api("/api/v1/recipients", { method: "POST", headers: { "content-type": "text/csv" }, body: `address\n${rows}\n"broken\n` });
    expect(res.status).toBe(400);
    const [entry] = (await auditPage("?limit=5")).items.filter((e) => e.path === "/api/v1/recipients");
    expect(entry).toMatchObject({ method: "POST", status: 400, summary: expect.stringMatching(/^imported recipients: 2000 created/) });
  });

  it("filters by actor (id or name) and by time, newest first, page by page", async () => {
    const bob = await issueToken("admin", { name: "ops-bob" });
    // Entries carry millisecond times: keep every entry before `start` strictly earlier, and every one after it strictly later.
    const tick = () => new Promise((r) => setTimeout(r, 5));
    await tick();
    const start = new Date().toISOString();
    await tick();
    for (const name of ["f1", "f2", "f3"]) expect((await api(`/api/v1/domains/${name}.test`, { method: "PUT", token: bob.token })).status).toBe(201);
    await api("/api/v1/domains/not-bob.test", { method: "PUT" });

    for (const actor of [bob.id, "ops-bob"]) {
      const seen: Entry[] = [];
      let cursor: string | null = null;
      do {
        const page: Page = await auditPage(`?actor=${encodeURIComponent(actor)}&limit=2${cursor === null ? "" : `&cursor=${cursor}`}`);
        seen.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen.map((e) => e.objectId)).toEqual(["f3.test", "f2.test", "f1.test"]);
    }
    const since = await auditPage(`?since=${encodeURIComponent(start)}`);
    expect(since.items.map((e) => e.objectId)).toEqual(["not-bob.test", "f3.test", "f2.test", "f1.test"]);
    expect((await auditPage(`?until=${encodeURIComponent(start)}`)).items.every((e) => e.at < start)).toBe(true);
    expect((await auditPage(`?since=2000-01-01&until=2000-01-02`)).items).toEqual([]);
  });

  it.each([["?since=yesterday"], ["?until=soon"], ["?limit=0"], ["?cursor=%%%"]])("answers %s with 400", async (query) => {
    const res = await api(`/api/v1/audit${query}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "bad_request" } });
  });

  it("is for admin tokens only", async () => {
    for (const role of ["read-only", "operator"] as const) {
      expect((await api("/api/v1/audit", { token: (await issueToken(role)).token })).status).toBe(403);
    }
  });

  it("keeps the change and logs the entry when the audit insert fails", async () => {
    const errors: string[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void errors.push(args.map(String).join(" ")));
    await env.DB.exec("ALTER TABLE audit_log RENAME TO audit_log_away");
    try {
      const res = await api("/api/v1/domains/kept.test", { method: "PUT" });
      expect(res.status).toBe(201);
    } finally {
      await env.DB.exec("ALTER TABLE audit_log_away RENAME TO audit_log");
      spy.mockRestore();
    }
    expect((await api("/api/v1/domains/kept.test")).status).toBe(200);
    const logged = errors
      .map((line) => JSON.parse(line) as { event: string; entry?: { summary: string; actor: { id: string } } } & Record<string, unknown>)
      .find((e) => e.event === "audit_write_failed");
    expect(logged).toMatchObject({ level: "error", worker: "hub", hubId: env.HUB_ID });
    expect(logged?.entry).toMatchObject({ summary: "accepted domain kept.test", actor: { id: "bootstrap" } });
    expect(await entriesFor("kept.test")).toEqual([]);
  });
});
