import { describe, expect, it } from "vitest";
import { api, count, expectNoSyncRequested, expectSyncRequested } from "./helpers.ts";

function importJson(items: unknown[]): Promise<Response> {
  return api("/api/v1/recipients", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(items) });
}

interface DomainItem {
  name: string;
  createdAt: string;
  recipients: number;
}

describe("domains API", () => {
  it("adds a domain with 201, normalised, and answers 200 when it already exists", async () => {
    const created = await api("/api/v1/domains/Add-Me.TEST.", { method: "PUT" });
    expect(created.status).toBe(201);
    const body = (await created.json()) as DomainItem;
    expect(body).toMatchObject({ name: "add-me.test", recipients: 0 });
    expect(Date.parse(body.createdAt)).not.toBeNaN();

    const again = await api("/api/v1/domains/add-me.test", { method: "PUT" });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(body);
    expect(await count("SELECT count(*) AS n FROM domains WHERE name = ?", "add-me.test")).toBe(1);
    expect(await count("SELECT count(*) AS n FROM directory_changes WHERE kind = 'domain'")).toBeGreaterThanOrEqual(1);
  });

  it("lists domains in name order with their recipient counts, page by page", async () => {
    for (const name of ["list-c.test", "list-a.test", "list-b.test"]) expect((await api(`/api/v1/domains/${name}`, { method: "PUT" })).status).toBe(201);
    const imported = await importJson([{ address: "one@list-b.test" }, { address: "two@list-b.test" }, { address: "three@list-c.test" }]);
    expect(await imported.json()).toMatchObject({ created: 3, errors: [] });

    const seen: DomainItem[] = [];
    let cursor: string | null = null;
    do {
      const res = await api(`/api/v1/domains?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: DomainItem[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    const lists = seen.filter((d) => d.name.startsWith("list-"));
    expect(lists.map((d) => [d.name, d.recipients])).toEqual([
      ["list-a.test", 0],
      ["list-b.test", 2],
      ["list-c.test", 1],
    ]);
    expect(seen.map((d) => d.name)).toEqual([...seen.map((d) => d.name)].sort());
  });

  it("deletes a domain together with its recipients and every address in it", async () => {
    for (const name of ["gone.test", "stays.test"]) await api(`/api/v1/domains/${name}`, { method: "PUT" });
    const imported = await importJson([
      { address: "alice@gone.test", aliases: ["alice@stays.test"] },
      { address: "bob@stays.test", aliases: ["bob@gone.test"] },
    ]);
    expect(await imported.json()).toMatchObject({ created: 2, errors: [] });
    expect(
      await count("SELECT count(*) AS n FROM recipient_addresses WHERE address IN ('alice@gone.test', 'alice@stays.test', 'bob@stays.test', 'bob@gone.test')"),
    ).toBe(4);
    const changesBefore = await count("SELECT count(*) AS n FROM directory_changes");

    const res = await api("/api/v1/domains/gone.test", { method: "DELETE" });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");

    expect(await count("SELECT count(*) AS n FROM domains WHERE name = 'gone.test'")).toBe(0);
    // alice's recipient row went with her domain, and with it her alias in the other domain.
    expect(await count("SELECT count(*) AS n FROM recipients WHERE domain = 'gone.test'")).toBe(0);
    expect(await count("SELECT count(*) AS n FROM recipient_addresses WHERE recipient = 'alice@gone.test' OR domain = 'gone.test'")).toBe(0);
    // bob stays, without his alias in the deleted domain.
    const bob = (await (await api("/api/v1/recipients/bob@stays.test")).json()) as { aliases: string[] };
    expect(bob.aliases).toEqual([]);
    expect((await api("/api/v1/recipients/alice@stays.test")).status).toBe(404);
    // The triggers saw the cascade: the domain and three addresses changed.
    expect(await count("SELECT count(*) AS n FROM directory_changes")).toBe(changesBefore + 4);
  });

  it("answers 404 for a domain that is not accepted, and 400 for a name that is not a domain", async () => {
    const missing = await api("/api/v1/domains/never-added.test", { method: "DELETE" });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "not_found", message: expect.any(String) } });

    for (const method of ["PUT", "DELETE"]) {
      const bad = await api("/api/v1/domains/not%20a%20domain", { method });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: { code: "bad_request", message: expect.any(String) } });
    }
    const badCursor = await api("/api/v1/domains?cursor=bm9wZQ");
    expect(badCursor.status).toBe(400);
    expect(await badCursor.json()).toMatchObject({ error: { code: "bad_request" } });
  });

  it("asks for a sync after adding and after deleting a domain, and not when nothing changed", async () => {
    await expectSyncRequested(async () => expect((await api("/api/v1/domains/synced.test", { method: "PUT" })).status).toBe(201));
    await expectNoSyncRequested(async () => expect((await api("/api/v1/domains/synced.test", { method: "PUT" })).status).toBe(200));
    await expectNoSyncRequested(async () => expect((await api("/api/v1/domains/unknown.test", { method: "DELETE" })).status).toBe(404));
    await expectSyncRequested(async () => expect((await api("/api/v1/domains/synced.test", { method: "DELETE" })).status).toBe(204));
  });

  it.each([
    ["GET", "/api/v1/domains"],
    ["PUT", "/api/v1/domains/secret.test"],
    ["DELETE", "/api/v1/domains/secret.test"],
  ])("answers %s %s without a token with 401 and changes nothing", async (method, path) => {
    const res = await api(path, { method, token: null });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
    expect(await count("SELECT count(*) AS n FROM domains WHERE name = 'secret.test'")).toBe(0);
  });
});
