import { describe, expect, it } from "vitest";
import { api } from "./helpers.ts";

/**
 * The operator views of delivery: the hub asks each registered edge (over a service binding, or
 * signed HTTPS) for its view of hub health and for its spool. What the spool does is tested at
 * the edge (test/integration/edge/spool.test.ts); here, that the hub reaches it and answers clearly.
 */
async function register(): Promise<void> {
  expect((await api("/api/v1/edges/edge-a", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "EDGE" }) })).ok).toBe(true);
  expect((await api("/api/v1/edges/edge-https", { method: "PUT", body: JSON.stringify({ transport: "https", url: "https://edge3.example.com/" }) })).ok).toBe(
    true,
  );
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

describe("GET /api/v1/hubs", () => {
  it("lists the default hub when no hubs policy is set, with every edge's (empty) report", async () => {
    await register();
    const res = await api("/api/v1/hubs");
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      source: "default",
      items: [{ id: "hub", transport: "binding", binding: "HUB", priority: 0, weight: 1, maxConcurrency: 1000, health: "unknown", edges: [] }],
      unreachable: [],
    });
  });

  it("lists the hubs of the policy, and names an edge that does not answer", async () => {
    await register();
    const hubs = [
      { id: "hub-eu", transport: "https", url: "https://hub-eu.example.com", priority: 10, weight: 2, maxConcurrency: 50 },
      { id: "hub-us", transport: "https", url: "https://hub-us.example.com", priority: 20, weight: 1, maxConcurrency: 50 },
    ];
    expect((await api("/api/v1/policies/hubs", { method: "PUT", body: JSON.stringify(hubs) })).ok).toBe(true);
    expect((await api("/api/v1/edges/edge-gone", { method: "PUT", body: JSON.stringify({ transport: "https", url: "https://unreachable.test/" }) })).ok).toBe(
      true,
    );
    const view = await json<{ source: string; items: { id: string; health: string }[]; unreachable: { edge: string; error: string }[] }>(
      await api("/api/v1/hubs"),
    );
    expect(view.source).toBe("policy");
    expect(view.items.map((h) => [h.id, h.health])).toEqual([
      ["hub-eu", "unknown"],
      ["hub-us", "unknown"],
    ]);
    expect(view.unreachable).toEqual([{ edge: "edge-gone", error: expect.any(String) }]);
  });

  it("needs the admin token", async () => {
    expect((await api("/api/v1/hubs", { token: null })).status).toBe(401);
    expect((await api("/api/v1/queues", { token: null })).status).toBe(401);
    expect((await api(`/api/v1/queues/edge-a/${crypto.randomUUID()}/retry`, { method: "POST", token: "wrong" })).status).toBe(401);
  });
});

describe("the queue viewer API", () => {
  it("summarises every edge's spool, over a binding and over signed HTTPS", async () => {
    await register();
    const { items } = await json<{ items: { edge: string; reachable: boolean; counts: Record<string, number> | null }[] }>(await api("/api/v1/queues"));
    for (const edge of ["edge-a", "edge-https"]) {
      expect(items.find((i) => i.edge === edge)).toMatchObject({ reachable: true, counts: { queued: 0, suspended: 0, dead: 0, deleted: 0 } });
    }
    const page = await json<{ items: unknown[]; nextCursor: string | null }>(await api("/api/v1/queues/edge-https?state=dead"));
    expect(page).toMatchObject({ items: [], nextCursor: null });
  });

  it("answers 404 for an unknown edge or message, 400 for a bad id, state or missing reason, 502 for an edge that does not answer", async () => {
    await register();
    const id = crypto.randomUUID();
    const unknownEdge = await api("/api/v1/queues/no-such-edge");
    expect(unknownEdge.status).toBe(404);
    expect(await json(unknownEdge)).toMatchObject({ error: { code: "not_found" } });
    expect((await api("/api/v1/queues/edge-a/not-a-uuid")).status).toBe(400);
    expect((await api("/api/v1/queues/edge-a?state=lost")).status).toBe(400);
    const missing = await api(`/api/v1/queues/edge-a/${id}`);
    expect(missing.status).toBe(404);
    for (const action of ["retry", "suspend", "resume"]) {
      const res = await api(`/api/v1/queues/edge-https/${id}/${action}`, { method: "POST" });
      expect(res.status).toBe(404);
      expect(await json(res)).toMatchObject({ error: { code: "not_found", message: expect.stringContaining(id) } });
    }
    const noReason = await api(`/api/v1/queues/edge-a/${id}`, { method: "DELETE", body: JSON.stringify({ reason: " " }) });
    expect(noReason.status).toBe(400);
    expect((await api(`/api/v1/queues/edge-a/${id}`, { method: "DELETE", body: "not json" })).status).toBe(400);
    expect((await api(`/api/v1/queues/edge-a/${id}`, { method: "DELETE", body: JSON.stringify({ reason: "gone" }) })).status).toBe(404);
    await api("/api/v1/edges/edge-gone", { method: "PUT", body: JSON.stringify({ transport: "https", url: "https://unreachable.test/" }) });
    const gone = await api("/api/v1/queues/edge-gone");
    expect(gone.status).toBe(502);
    expect(await json(gone)).toMatchObject({ error: { code: "edge_unreachable" } });
  });
});
