import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import hub from "../../../workers/hub/index.ts";
import { describe, expect, it } from "vitest";
import type { EdgeDirectoryApi } from "../../../shared/directory/publish-api.ts";
import { seedDirectory } from "./directory-seed.ts";

const TOKEN = env.ADMIN_TOKEN;

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${TOKEN}`);
  if (init.body !== undefined) headers.set("content-type", "application/json");
  const res = await exports.default.fetch(new Request(`http://hub${path}`, { ...init, headers }));
  return { status: res.status, body: (await res.json()) as T };
}

interface SyncReport {
  root: string;
  snapshot: { kind: string; recipients: number; overlayEntries: number };
  edges: { id: string; status: string; blobsWritten?: number; version?: number; root?: string; error?: string }[];
}

interface EdgesView {
  root: string;
  items: {
    id: string;
    root: string | null;
    version: number | null;
    converged: boolean;
    lastSuccessAt: string | null;
    lastError: string | null;
    leaseHolder: string | null;
    reachable: boolean;
  }[];
}

const sync = () => api<SyncReport>("/api/v1/sync", { method: "POST" });

describe("EdgeSync from the hub", () => {
  it("syncs two edges to the same root hash, then writes O(1) blobs for one change", async () => {
    await seedDirectory(["example.com"], ["alice@example.com", "bob@example.com"]);
    expect((await api("/api/v1/edges/edge-a", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "EDGE" }) })).status).toBe(201);
    expect((await api("/api/v1/edges/edge-b", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "EDGE_2" }) })).status).toBe(201);

    const first = await sync();
    expect(first.status).toBe(200);
    expect(first.body.snapshot).toMatchObject({ kind: "full", recipients: 2 });
    expect(first.body.edges.map((e) => [e.id, e.status])).toEqual([
      ["edge-a", "committed"],
      ["edge-b", "committed"],
    ]);
    // domains blob, one shard, the content filter's model, manifest
    expect(first.body.edges.every((e) => e.blobsWritten === 4)).toBe(true);

    const view = await api<EdgesView>("/api/v1/edges");
    expect(view.body.items.map((e) => e.converged)).toEqual([true, true]);
    expect(new Set(view.body.items.map((e) => e.root))).toEqual(new Set([first.body.root]));
    expect(view.body.items.every((e) => e.lastSuccessAt !== null && e.lastError === null)).toBe(true);

    const again = await sync();
    expect(again.body.edges.map((e) => e.status)).toEqual(["unchanged", "unchanged"]);

    await seedDirectory([], ["carol@example.com"]);
    const delta = await sync();
    expect(delta.body.snapshot).toMatchObject({ kind: "overlay", recipients: 3, overlayEntries: 1 });
    // Only the new manifest (which carries the overlay): the shards and domains are unchanged.
    expect(delta.body.edges.map((e) => e.blobsWritten)).toEqual([1, 1]);
    const written = await api<{ items: { lastBlobsWritten: number; lastBytesWritten: number }[] }>("/api/v1/edges");
    expect(written.body.items[0]).toMatchObject({ lastBlobsWritten: 1, lastBytesWritten: expect.any(Number) });

    const carol = await api<{ accepted: boolean; smtp: string; root: string }>("/api/v1/edges/edge-b/recipients/carol@example.com");
    expect(carol.body).toMatchObject({ accepted: true, smtp: "250 2.0.0 OK", root: delta.body.root });
    const nobody = await api<{ accepted: boolean; smtp: string }>("/api/v1/edges/edge-a/recipients/nobody@example.com");
    expect(nobody.body).toMatchObject({ accepted: false, smtp: expect.stringMatching(/^550 5\.1\.1 /) });
    const foreign = await api<{ accepted: boolean; smtp: string; domainAccepted: boolean }>("/api/v1/edges/edge-a/recipients/x@elsewhere.example");
    expect(foreign.body).toMatchObject({ accepted: false, domainAccepted: false, smtp: expect.stringMatching(/^550 5\.7\.1 /) });
  });

  it("records a busy lease as 'retry next tick' and leaves the edge to its holder", async () => {
    await seedDirectory(["example.org"], ["dora@example.org"]);
    await api("/api/v1/edges/edge-a", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "EDGE" }) });
    const edge = env.EDGE as unknown as EdgeDirectoryApi;
    const held = await edge.acquire("other-hub", 60_000);
    expect(held.ok).toBe(true);
    const report = await sync();
    const a = report.body.edges.find((e) => e.id === "edge-a");
    expect(a).toMatchObject({ status: "busy", holder: "other-hub" });
    const view = await api<EdgesView>("/api/v1/edges");
    expect(view.body.items.find((e) => e.id === "edge-a")).toMatchObject({
      leaseHolder: "other-hub",
      lastError: expect.stringMatching(/busy: lease held by other-hub, retry next tick/),
    });
    if (held.ok) await edge.release(held.token);
    const after = await sync();
    expect(after.body.edges.find((e) => e.id === "edge-a")?.status).toMatch(/committed|unchanged/);
  });

  it("syncs an edge over signed HTTPS", async () => {
    await seedDirectory(["example.net"], ["hank@example.net"]);
    expect(
      (await api("/api/v1/edges/edge-https", { method: "PUT", body: JSON.stringify({ transport: "https", url: "https://edge3.example.com/ignored/path" }) }))
        .status,
    ).toBe(201);
    const report = await sync();
    expect(report.body.edges.find((e) => e.id === "edge-https")).toMatchObject({ status: "committed", root: report.body.root });
    const hank = await api<{ accepted: boolean; edgeId: string }>("/api/v1/edges/edge-https/recipients/hank@example.net");
    expect(hank.body).toMatchObject({ accepted: true, edgeId: "edge-test-3" });
    const view = await api<EdgesView>("/api/v1/edges");
    expect(view.body.items.find((e) => e.id === "edge-https")).toMatchObject({ converged: true, reachable: true });
  });

  it("builds full snapshots over many pages of D1 rows, and rebuilds the base past the overlay limit", async () => {
    expect((await api("/api/v1/domains/bulk.example", { method: "PUT" })).status).toBe(201);
    const csv = (from: number, n: number) => `address\n${Array.from({ length: n }, (_, i) => `u${from + i}@bulk.example`).join("\n")}\n`;
    const post = async (body: string) => {
      const res = await exports.default.fetch(
        new Request("http://hub/api/v1/recipients", { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "text/csv" }, body }),
      );
      expect(res.status).toBe(200);
    };
    await post(csv(0, 25_000));
    await api("/api/v1/edges/edge-a", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "EDGE" }) });
    const first = await sync();
    expect(first.body.snapshot).toMatchObject({ kind: "full" });
    expect(first.body.snapshot.recipients).toBeGreaterThanOrEqual(25_000);
    expect(first.body.edges.find((e) => e.id === "edge-a")?.status).toBe("committed");
    // Every 125th address, across all pages and shards: none lost or duplicated at a page boundary.
    const edge = env.EDGE as unknown as EdgeDirectoryApi;
    const missing: number[] = [];
    for (let n = 0; n < 25_000; n += 125) if (!(await edge.lookup(`u${n}@bulk.example`)).accepted) missing.push(n);
    expect(missing).toEqual([]);
    expect((await edge.lookup("u25000@bulk.example")).accepted).toBe(false);
    // 9,000 more changes: past the overlay's 8,192, so the base shards are rebuilt.
    await post(csv(25_000, 9_000));
    const rebuilt = await sync();
    expect(rebuilt.body.snapshot).toMatchObject({ kind: "full", overlayEntries: 0 });
    expect((await api<{ accepted: boolean }>("/api/v1/edges/edge-a/recipients/u33999@bulk.example")).body.accepted).toBe(true);
  });

  it("syncs by itself shortly after an admin change (debounced), with no explicit sync call", async () => {
    const edge = env.EDGE_2 as unknown as EdgeDirectoryApi;
    await api("/api/v1/edges/edge-b", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "EDGE_2" }) });
    expect((await api("/api/v1/domains/auto.example", { method: "PUT" })).status).toBe(201);
    expect((await api("/api/v1/recipients", { method: "POST", body: JSON.stringify([{ address: "ann@auto.example" }]) })).status).toBe(200);
    const started = Date.now();
    while (!(await edge.lookup("ann@auto.example").catch(() => ({ accepted: false }))).accepted) {
      if (Date.now() - started > 10_000) throw new Error("the change did not reach the edge within 10 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("lets the cron round catch changes written outside the admin API", async () => {
    const edge = env.EDGE as unknown as EdgeDirectoryApi;
    await api("/api/v1/edges/edge-a", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "EDGE" }) });
    await sync();
    await seedDirectory(["cron.example"], ["carl@cron.example"]); // straight into D1: no sync requested
    expect((await edge.lookup("carl@cron.example")).accepted).toBe(false);
    const ctx = createExecutionContext();
    await hub.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect((await edge.lookup("carl@cron.example")).accepted).toBe(true);
  });

  it("answers edge registration mistakes with a JSON error", async () => {
    expect((await api("/api/v1/edges/edge-x", { method: "PUT", body: JSON.stringify({ transport: "https", url: "http://edge.example.com" }) })).status).toBe(
      400,
    );
    expect(
      (await api("/api/v1/edges/edge-x", { method: "PUT", body: JSON.stringify({ transport: "https", url: "https://user:pw@edge.example.com" }) })).status,
    ).toBe(400);
    expect((await api("/api/v1/edges/edge-x", { method: "PUT", body: JSON.stringify({ transport: "carrier-pigeon" }) })).status).toBe(400);
    expect((await api("/api/v1/edges/Bad%20Id", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "EDGE" }) })).status).toBe(400);
    expect((await api("/api/v1/edges/edge-x", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "NOPE" }) })).status).toBe(400);
    expect((await api("/api/v1/edges/edge-x", { method: "PUT", body: "{" })).status).toBe(400);
    expect((await api("/api/v1/edges/edge-x/recipients/a@b.example")).status).toBe(404);
    expect((await api("/api/v1/edges/edge-x", { method: "DELETE" })).status).toBe(404);
  });
});
