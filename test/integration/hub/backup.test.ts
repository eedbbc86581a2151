import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Delivery, HubPing, IngestResult } from "../../../shared/delivery.ts";
import { app } from "../../../workers/hub/app.ts";
import { RECIPIENT_HASH_BYTES } from "../../../shared/directory/hash.ts";
import { createExport, readLatest } from "../../../workers/hub/backup/export.ts";
import { EXPORT_PART_BYTES } from "../../../workers/hub/backup/limits.ts";
import { listExports, pruneExports } from "../../../workers/hub/backup/retention.ts";
import { restoreExport } from "../../../workers/hub/backup/restore.ts";
import { readState } from "../../../workers/hub/backup/state.ts";
import { syncAllEdges } from "../../../workers/hub/sync/sync-edges.ts";
import { releaseHeld, standbyRound } from "../../../workers/hub/backup/standby.ts";
import { storeDelivery } from "../../../workers/hub/mailbox.ts";
import { currentSnapshot } from "../../../workers/hub/sync/build.ts";
import { api, count, expectSyncRequested, setRoute, testDelivery } from "./helpers.ts";

const json = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const put = (body: unknown): RequestInit => ({ method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

interface ExportAnswer {
  written: boolean;
  key: string;
  root: string;
  contentHash: string;
  counts: Record<string, number>;
}

async function exportNow(): Promise<ExportAnswer> {
  const res = await api("/api/v1/backups", { method: "POST" });
  expect(res.status).toBe(200);
  return res.json();
}

/** Every directory table emptied, as in a freshly migrated database. */
async function wipeDirectory(): Promise<void> {
  await env.DB.batch(
    ["recipient_addresses", "recipients", "domains", "policies", "edges", "snapshots", "directory_changes", "backup_state"].map((t) =>
      env.DB.prepare(`DELETE FROM ${t}`),
    ),
  );
}

/** Fails the test unless the admin API took the change. */
async function ok(res: Promise<Response>): Promise<void> {
  const r = await res;
  if (r.status >= 300) throw new Error(`${r.status} ${await r.text()}`);
}

/** A small directory through the admin API: a domain, recipients (an alias, flags), a policy and an edge. */
async function seed(): Promise<void> {
  await ok(api("/api/v1/domains/example.com", put({})));
  await ok(
    api(
      "/api/v1/recipients",
      json([
        { address: "alice@example.com", aliases: ["a.smith@example.com"] },
        { address: "bob@example.com", rejectInternet: true },
        { address: "carol@example.com", sclOverride: 2 },
      ]),
    ),
  );
  await ok(api("/api/v1/policies/thresholds", put({ tag: 3, quarantine: 6, reject: 8 })));
  await ok(api("/api/v1/edges/edge-a", put({ transport: "binding", binding: "EDGE" })));
}

/** This hub's env with other vars (another deployment's HUB_ID, role or retention). */
const envWith = (vars: Record<string, unknown>): Env => ({ ...env, ...vars }) as unknown as Env;

/** The hub's admin API as a deployment with other vars would answer (HUB_ROLE, HUB_ID …). */
function apiAs(vars: Record<string, unknown>, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${env.ADMIN_TOKEN}`);
  return Promise.resolve(app.fetch(new Request(`http://hub${path}`, { ...init, headers }), envWith(vars), createExecutionContext()));
}

async function gzipText(text: string): Promise<ArrayBuffer> {
  return new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
}

const gzip = (value: unknown): Promise<ArrayBuffer> => gzipText(JSON.stringify(value));

/** A webhook route, for route changes and held mail. */
const WEBHOOK = { type: "webhook", url: "https://webhook.test/standby", secret: "standby-webhook-secret-0123456789" };

/** The hub's D1 with every statement's SQL recorded and the rows it read (D1's `rows_read`) summed. */
function spiedDb(): { db: D1Database; sql: string[]; rowsRead: number } {
  const spy = { db: env.DB, sql: [] as string[], rowsRead: 0 };
  const tally = <T>(r: D1Result<T>): D1Result<T> => {
    spy.rowsRead += r.meta.rows_read ?? 0;
    return r;
  };
  spy.db = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "prepare") {
        return (query: string) => {
          spy.sql.push(query);
          return target.prepare(query);
        };
      }
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => (await target.batch(statements)).map(tally);
      }
      const value: unknown = Reflect.get(target, prop);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return spy;
}

describe("directory export and restore", () => {
  it("exports a consistent copy, and a restore into an empty database builds the same root hash", async () => {
    await seed();
    // The hub's own snapshot becomes an overlay after a small change; the export still records the
    // root a restored hub (whose first build is a full one) gives.
    await currentSnapshot(env);
    await ok(api("/api/v1/recipients", json([{ address: "dave@example.com" }])));
    expect((await currentSnapshot(env)).kind).toBe("overlay");

    const first = await exportNow();
    expect(first).toMatchObject({ written: true, counts: { domains: 1, recipients: 4, addresses: 5, policies: 1, edges: 1 } });
    expect(first.key).toMatch(new RegExp(`^exports/${env.HUB_ID}/\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z-${first.root.slice(0, 12)}\\.json\\.gz$`));
    const head = await env.BACKUP.head(first.key);
    expect(head?.customMetadata).toMatchObject({ root: first.root, hubId: env.HUB_ID, schema: "8", format: "2" });
    // Stored compressed: the object is gzip (magic bytes 1f 8b).
    const bytes = new Uint8Array(await (await env.BACKUP.get(first.key))!.arrayBuffer());
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);

    // Nothing changed: no second object, the newest is answered.
    const again = await exportNow();
    expect(again).toMatchObject({ written: false, key: first.key, root: first.root });
    const listed = (await (await api("/api/v1/backups")).json()) as { exports: { key: string; root: string }[]; role: string };
    expect(listed.role).toBe("primary");
    expect(listed.exports.filter((e) => e.key.startsWith(`exports/${env.HUB_ID}/`))).toEqual([expect.objectContaining({ key: first.key, root: first.root })]);

    await wipeDirectory();
    // A primary asks for a sync once restored, so its edges get the directory back at once.
    await expectSyncRequested(async () => {
      const restored = await api("/api/v1/backups/restore", json({ key: first.key }));
      expect(restored.status).toBe(200);
      expect(await restored.json()).toMatchObject({ key: first.key, root: first.root, verified: true, counts: first.counts });
    });

    const rebuilt = await currentSnapshot(env);
    expect(rebuilt.kind).toBe("full");
    expect(rebuilt.root).toBe(first.root);
    expect(await count("SELECT COUNT(*) AS n FROM recipients WHERE address = 'bob@example.com' AND reject_internet = 1")).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM recipient_addresses WHERE address = 'a.smith@example.com'")).toBe(1);
    expect((await api("/api/v1/edges")).status).toBe(200);
    expect(await count("SELECT COUNT(*) AS n FROM edges WHERE id = 'edge-a'")).toBe(1);
  });

  it("checks for changes without reading recipients or addresses, and exports again after a change to any table", async () => {
    await seed();
    const hub = envWith({ HUB_ID: "hub-marker" });
    const first = await createExport(hub);
    expect(first.written).toBe(true);
    // Unchanged: only the small tables are read, no recipient or address row.
    const spy = spiedDb();
    const again = await createExport(envWith({ HUB_ID: "hub-marker", DB: spy.db }));
    expect(again).toMatchObject({ written: false, key: first.key, contentHash: first.contentHash });
    expect(spy.sql.length).toBeGreaterThan(0);
    expect(spy.sql.filter((q) => /\brecipients\b|\brecipient_addresses\b/.test(q))).toEqual([]);
    expect(spy.rowsRead).toBeGreaterThan(0);
    expect(spy.rowsRead).toBeLessThan(10);

    // Each change gives a new export: tables the change log covers and ones it does not (routes, edges).
    const changes: [string, () => Promise<unknown>][] = [
      ["a recipient's flags", () => ok(api("/api/v1/recipients", json([{ address: "carol@example.com", sclOverride: 4 }])))],
      ["a new alias", () => ok(api("/api/v1/recipients", json([{ address: "bob@example.com", rejectInternet: true, aliases: ["b@example.com"] }])))],
      ["a new recipient", () => ok(api("/api/v1/recipients", json([{ address: "erin@example.com" }])))],
      ["a deleted recipient", () => ok(api("/api/v1/recipients/erin@example.com", { method: "DELETE" }))],
      ["a domain", () => ok(api("/api/v1/domains/example.org", put({})))],
      ["a route", () => setRoute("example.com", WEBHOOK)],
      ["a policy", () => ok(api("/api/v1/policies/thresholds", put({ tag: 2, quarantine: 6, reject: 8 })))],
      ["an edge", () => ok(api("/api/v1/edges/edge-b", put({ transport: "https", url: "https://edge-b.example" })))],
    ];
    let previous = first;
    for (const [what, change] of changes) {
      await change();
      const next = await createExport(hub);
      expect(next.written, what).toBe(true);
      expect(next.contentHash, what).not.toBe(previous.contentHash);
      expect((await createExport(hub)).written, what).toBe(false);
      previous = next;
    }

    // A change undone before the next export: the rows are read once and give the same content
    // (nothing written); the pointer takes the new marker, so the check after is cheap again.
    await ok(api("/api/v1/domains/example.net", put({})));
    await ok(api("/api/v1/domains/example.net", { method: "DELETE" }));
    const undone = spiedDb();
    expect(await createExport(envWith({ HUB_ID: "hub-marker", DB: undone.db }))).toMatchObject({ written: false, key: previous.key });
    expect(undone.sql.some((q) => /\brecipient_addresses\b/.test(q))).toBe(true);
    const cheap = spiedDb();
    expect((await createExport(envWith({ HUB_ID: "hub-marker", DB: cheap.db }))).written).toBe(false);
    expect(cheap.sql.filter((q) => /\brecipient_addresses\b/.test(q))).toEqual([]);

    // A pointer from before markers: one full read finds the same content and records the marker.
    const latest = (await readLatest(env.BACKUP, "hub-marker"))!;
    await env.BACKUP.put("latest/hub-marker.json", JSON.stringify({ ...latest, marker: undefined }));
    const legacy = spiedDb();
    expect((await createExport(envWith({ HUB_ID: "hub-marker", DB: legacy.db }))).written).toBe(false);
    expect(legacy.sql.some((q) => /\brecipient_addresses\b/.test(q))).toBe(true);
    expect((await readLatest(env.BACKUP, "hub-marker"))?.marker).toBe(latest.marker);

    // The tests after this one expect the seeded edge and domain only.
    await ok(api("/api/v1/edges/edge-b", { method: "DELETE" }));
    await ok(api("/api/v1/domains/example.org", { method: "DELETE" }));
  });

  it("refuses to restore over a directory that is not empty, bad keys, missing exports and force on a primary", async () => {
    await seed();
    const latest = await exportNow();
    const over = await api("/api/v1/backups/restore", json({ key: latest.key }));
    expect(over.status).toBe(409);
    expect(await over.json()).toMatchObject({ error: { code: "not_empty" } });

    expect((await (await api("/api/v1/backups/restore", json({ key: "../etc/passwd" }))).json()) as unknown).toMatchObject({ error: { code: "invalid_key" } });
    const missing = await api("/api/v1/backups/restore", json({ key: `exports/${env.HUB_ID}/2000-01-01T00:00:00.000Z-000000000000.json.gz` }));
    expect(missing.status).toBe(404);
    expect((await api("/api/v1/backups/restore", { method: "POST", body: "{not json" })).status).toBe(400);
    const forced = await api("/api/v1/backups/restore", json({ key: latest.key, force: true }));
    expect(forced.status).toBe(409);
    expect(await forced.json()).toMatchObject({ error: { code: "not_standby" } });
    // Only administrators restore.
    const token = await api("/api/v1/tokens", json({ name: "ops", role: "operator" }));
    const { token: operator } = (await token.json()) as { token: string };
    expect((await api("/api/v1/backups/restore", { ...json({ key: latest.key }), token: operator })).status).toBe(403);
  });

  it("a restore that breaks part way stays marked restoring: sync and exports wait, and the next attempt starts over", async () => {
    await seed();
    const latest = await exportNow();
    const lines = (await new Response((await env.BACKUP.get(latest.key))!.body.pipeThrough(new DecompressionStream("gzip"))).text()).trimEnd().split("\n");
    // An address line repeated: its insert fails after other rows went in.
    const addressLine = lines.findIndex((l) => l.startsWith('{"addresses"'));
    const broken = [...lines.slice(0, addressLine + 1), lines[addressLine]!, ...lines.slice(addressLine + 1)];
    const key = `exports/${env.HUB_ID}/2001-01-01T00:00:00.000Z-broken000000.json.gz`;
    await env.BACKUP.put(key, await gzipText(`${broken.join("\n")}\n`));
    await wipeDirectory();

    const res = await api("/api/v1/backups/restore", json({ key }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_export" } });
    expect(await readState(env.DB, "restoring")).toMatchObject({ key, error: expect.stringMatching(/does not fit/) });
    expect(await count("SELECT COUNT(*) AS n FROM recipients")).toBeGreaterThan(0);
    // Nothing builds or exports from the half-restored directory.
    expect(await syncAllEdges(env)).toMatchObject({ root: null, restoring: true });
    await expect(createExport(env)).rejects.toThrow(/restored/);
    const busy = await api("/api/v1/backups", { method: "POST" });
    expect(busy.status).toBe(409);
    expect(await busy.json()).toMatchObject({ error: { code: "busy", message: expect.stringMatching(/restored/) } });

    // Cut short (no end line): refused the same way.
    const cut = `exports/${env.HUB_ID}/2001-01-02T00:00:00.000Z-cut000000000.json.gz`;
    await env.BACKUP.put(cut, await gzipText(`${lines.slice(0, -1).join("\n")}\n`));
    expect(await (await api("/api/v1/backups/restore", json({ key: cut }))).json()).toMatchObject({ error: { code: "invalid_export" } });

    // Not gzip'd JSON at all, and gzip'd JSON of the wrong shape: both 400.
    await env.BACKUP.put(`exports/${env.HUB_ID}/junk.json.gz`, "plain text");
    expect(await (await api("/api/v1/backups/restore", json({ key: `exports/${env.HUB_ID}/junk.json.gz` }))).json()).toMatchObject({
      error: { code: "invalid_export" },
    });
    await env.BACKUP.put(`exports/${env.HUB_ID}/shape.json.gz`, await gzip({ format: 1, schema: 8, domains: "nope" }));
    expect(await (await api("/api/v1/backups/restore", json({ key: `exports/${env.HUB_ID}/shape.json.gz` }))).json()).toMatchObject({
      error: { code: "invalid_export" },
    });
    await env.BACKUP.delete([key, cut, `exports/${env.HUB_ID}/junk.json.gz`, `exports/${env.HUB_ID}/shape.json.gz`]);

    // The next attempt starts over (the failed restore's rows do not count as "not empty") and clears the state.
    const again = await api("/api/v1/backups/restore", json({ key: latest.key }));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ verified: true, counts: latest.counts });
    expect(await readState(env.DB, "restoring")).toBeNull();
    expect((await currentSnapshot(env)).root).toBe(latest.root);
  });

  it("exports a large directory page by page in parts, and restores it to the same root", async () => {
    await seed();
    const N = 24_000;
    for (let i = 0; i < N; i += 4_000) {
      const rows = Array.from({ length: 4_000 }, (_, j) => ({ address: `user${i + j}@example.com`, ...(j % 7 === 0 ? { sclOverride: 3 } : {}) }));
      await ok(api("/api/v1/recipients", json(rows)));
    }
    await currentSnapshot(env);
    const hub = envWith({ HUB_ID: "hub-large" });
    let pages = 0;
    const big = await createExport(hub, new Date(), { pageRows: 1_000, betweenPages: async () => void pages++ });
    const addresses = await count("SELECT COUNT(*) AS n FROM recipient_addresses");
    expect(addresses).toBeGreaterThan(N);
    expect(big).toMatchObject({ written: true, counts: { recipients: await count("SELECT COUNT(*) AS n FROM recipients"), addresses } });
    expect(pages).toBeGreaterThanOrEqual(48);
    expect(big.key).toContain(big.root.slice(0, 12));
    const full = await currentSnapshot(env);

    // A change between pages: that read is dropped and the export read again, never a mix.
    await ok(api("/api/v1/recipients", json([{ address: "yan@example.com" }])));
    let injected = false;
    const changed = await createExport(hub, new Date(Date.now() + 1000), {
      pageRows: 1_000,
      betweenPages: async () => {
        if (injected) return;
        injected = true;
        await ok(api("/api/v1/recipients", json([{ address: "zed@example.com" }])));
      },
    });
    expect(changed).toMatchObject({ written: true, counts: { addresses: addresses + 2 } });
    expect(changed.root).not.toBe(full.root);
    // Changes on every page: it gives up for this run, writing nothing.
    await ok(api("/api/v1/recipients", json([{ address: "yul@example.com" }])));
    let n = 0;
    await expect(
      createExport(hub, new Date(Date.now() + 2000), {
        pageRows: 5_000,
        betweenPages: () => ok(api("/api/v1/recipients", json([{ address: `x${n++}@example.com` }]))),
      }),
    ).rejects.toThrow(/changed during each/);
    expect((await readLatest(env.BACKUP, "hub-large"))?.key).toBe(changed.key);

    await wipeDirectory();
    const restored = await restoreExport(env, changed.key, { force: false });
    expect(restored).toMatchObject({ verified: true, root: changed.root, counts: changed.counts });
    expect((await currentSnapshot(env)).root).toBe(changed.root);

    await wipeDirectory();
    await seed();
  });

  it("uploads an export larger than one part in parts of EXPORT_PART_BYTES, and restores it", async () => {
    await seed();
    // Rows written straight to D1 (random hashes): enough that the gzip'd export passes one part.
    const N = 200_000;
    await env.DB.batch([
      env.DB.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
         INSERT INTO recipients (address, domain) SELECT 'bulk' || i || '@example.com', 'example.com' FROM n`,
      ).bind(N),
      env.DB.prepare(
        `INSERT INTO recipient_addresses (address, recipient, domain, hash)
         SELECT address, address, domain, randomblob(${RECIPIENT_HASH_BYTES}) FROM recipients WHERE address LIKE 'bulk%'`,
      ),
    ]);
    const hub = envWith({ HUB_ID: "hub-parts" });
    const exported = await createExport(hub);
    const object = (await env.BACKUP.head(exported.key))!;
    // Past one part: a multipart upload, keyed (by the marker) before the root was known.
    expect(object.size).toBeGreaterThan(EXPORT_PART_BYTES);
    expect(exported.key).not.toContain(exported.root.slice(0, 12));
    expect(object.customMetadata).toMatchObject({ format: "2", hubId: "hub-parts" });
    const addresses = await count("SELECT COUNT(*) AS n FROM recipient_addresses");
    expect(exported.counts.addresses).toBe(addresses);

    await wipeDirectory();
    const restored = await restoreExport(env, exported.key, { force: false });
    expect(restored).toMatchObject({ verified: true, root: exported.root, counts: exported.counts });
    expect((await currentSnapshot(env)).root).toBe(exported.root);
    // The tests after this one expect the seeded directory only.
    await wipeDirectory();
  });

  it("still restores a format 1 export (one JSON document)", async () => {
    await seed();
    const latest = await exportNow();
    const lines = (await new Response((await env.BACKUP.get(latest.key))!.body.pipeThrough(new DecompressionStream("gzip"))).text()).trimEnd().split("\n");
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const merged: Record<string, unknown> = { ...parsed[0], format: 1, recipients: [], addresses: [] };
    for (const line of parsed.slice(1)) {
      for (const [name, value] of Object.entries(line)) {
        if (name === "end") Object.assign(merged, value);
        else merged[name] = [...((merged[name] as unknown[] | undefined) ?? []), ...(value as unknown[])];
      }
    }
    const key = `exports/${env.HUB_ID}/2002-01-01T00:00:00.000Z-formatone000.json.gz`;
    await env.BACKUP.put(key, await gzip(merged));
    await wipeDirectory();
    const res = await api("/api/v1/backups/restore", json({ key }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ root: latest.root, verified: true, counts: latest.counts });
    expect((await currentSnapshot(env)).root).toBe(latest.root);
    await env.BACKUP.delete(key);
  });

  it("deletes exports past the retention but always keeps the newest BACKUP_KEEP", async () => {
    const day = 86_400_000;
    const now = Date.now();
    const hub = envWith({ HUB_ID: "hub-retention", BACKUP_RETENTION_DAYS: "7", BACKUP_KEEP: "2" });
    const keys: string[] = [];
    for (const [i, age] of [40, 30, 20, 10].entries()) {
      await env.DB.prepare("INSERT OR REPLACE INTO policies (name, body) VALUES ('thresholds', ?)")
        .bind(JSON.stringify({ tag: 3, quarantine: 5, reject: 6 + i }))
        .run();
      keys.push((await createExport(hub, new Date(now - age * day))).key);
    }
    // Each export pruned as it was written; at "now" the two newest stay although older than 7 days.
    expect(await pruneExports(hub, new Date(now))).toEqual([]);
    expect((await listExports(env.BACKUP, "hub-retention")).map((e) => e.key)).toEqual([keys[3], keys[2]]);
    expect((await readLatest(env.BACKUP, "hub-retention"))?.key).toBe(keys[3]);

    // Keep one, 15 days: the 20-day-old one goes, the newest stays.
    const lenient = envWith({ HUB_ID: "hub-retention", BACKUP_RETENTION_DAYS: "15", BACKUP_KEEP: "1" });
    expect(await pruneExports(lenient, new Date(now))).toEqual([keys[2]]);
    expect((await listExports(env.BACKUP, "hub-retention")).map((e) => e.key)).toEqual([keys[3]]);

    // A retention that could delete every export is a configuration error, not a silent default.
    await expect(pruneExports(envWith({ HUB_ID: "hub-retention", BACKUP_KEEP: "0" }))).rejects.toThrow(/BACKUP_KEEP/);
  });
});

/** A primary as the standby sees it over PRIMARY_HUB: its ping, and ingest recording what it was handed. */
function fakePrimary(hubId: string | null, answer: (d: Delivery) => IngestResult = () => ({ status: "stored", id: 1 })) {
  const handed: Delivery[] = [];
  return {
    handed,
    binding: {
      async ping(): Promise<HubPing> {
        if (hubId === null) throw new Error("connection refused");
        return { status: "ok", hubId };
      },
      async ingest(d: Delivery): Promise<IngestResult> {
        if (hubId === null) throw new Error("connection refused");
        handed.push(d);
        return answer(d);
      },
    },
  };
}

const standbyEnv = (primary: ReturnType<typeof fakePrimary>): Env =>
  ({ ...env, HUB_ROLE: "standby", HUB_ID: "hub-standby", PRIMARY_HUB: primary.binding }) as unknown as Env;

describe("the standby hub", () => {
  it("refuses directory and policy writes with 409 standby; reads and restores still work", async () => {
    const vars = { HUB_ROLE: "standby", HUB_ID: "hub-standby" };
    for (const [path, init] of [
      ["/api/v1/domains/other.example", put({})],
      ["/api/v1/recipients", json([{ address: "eve@example.com" }])],
      ["/api/v1/policies/thresholds", put({ tag: 3, quarantine: 5, reject: 7 })],
      ["/api/v1/edges/edge-z", put({ transport: "binding", binding: "EDGE" })],
      ["/api/v1/recipients/alice@example.com", { method: "DELETE" }],
    ] as const) {
      const res = await apiAs(vars, path, init);
      expect(res.status, path).toBe(409);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("standby");
      expect(body.error.message).toMatch(/made on the primary/);
    }
    // Mail a standby holds is acted on at the primary, once handed back.
    for (const [path, init] of [
      ["/api/v1/quarantine/1/release", { method: "POST" }],
      ["/api/v1/quarantine/1", { method: "DELETE" }],
      ["/api/v1/messages/1/report", json({ verdict: "ham" })],
    ] as const) {
      const res = await apiAs(vars, path, init);
      expect(res.status, path).toBe(409);
      expect(((await res.json()) as { error: { code: string; message: string } }).error.message).toMatch(/handed back to the primary/);
    }
    expect((await apiAs(vars, "/api/v1/recipients")).status).toBe(200);
    expect((await apiAs(vars, "/api/v1/policies/thresholds")).status).toBe(200);
    expect(await count("SELECT COUNT(*) AS n FROM domains WHERE name = 'other.example'")).toBe(0);
    // A standby follows exports; it does not write its own.
    expect(await (await apiAs(vars, "/api/v1/backups", { method: "POST" })).json()).toMatchObject({ error: { code: "standby" } });
    // The primary answers 409 to a standby round.
    expect(await (await api("/api/v1/backups/standby/run", { method: "POST" })).json()).toMatchObject({ error: { code: "not_standby" } });
  });

  it("restores its primary's newer export on its round, once, while the primary is up", async () => {
    await seed();
    const primary = fakePrimary(env.HUB_ID);
    const standby = standbyEnv(primary);
    // The primary changes its directory and exports it.
    await env.DB.prepare("INSERT OR REPLACE INTO policies (name, body) VALUES ('thresholds', ?)")
      .bind(JSON.stringify({ tag: 3, quarantine: 4, reject: 9 }))
      .run();
    const exported = await createExport(env);
    expect(exported.written).toBe(true);
    // The standby's copy drifted (as a stale standby's would): the round brings it back.
    await env.DB.prepare("DELETE FROM recipients WHERE address = 'carol@example.com'").run();

    const round = await standbyRound(standby);
    expect(round.primary).toMatchObject({ up: true, hubId: env.HUB_ID });
    expect(round.restored).toMatchObject({ key: exported.key, root: exported.root, verified: true });
    expect(round.sync).toBeNull();
    expect(await count("SELECT COUNT(*) AS n FROM recipients WHERE address = 'carol@example.com'")).toBe(1);
    expect((await currentSnapshot(standby)).root).toBe(exported.root);

    // Applied already: the next round restores nothing.
    expect((await standbyRound(standby)).restored).toBeNull();
    // A restore of it that failed part way (the state says so, rows are missing): the next round starts it over.
    await env.DB.batch([
      env.DB.prepare("DELETE FROM recipients WHERE address = 'carol@example.com'"),
      env.DB.prepare("INSERT INTO backup_state (name, value) VALUES ('restoring', ?)").bind(
        JSON.stringify({ key: exported.key, startedAt: new Date().toISOString(), error: "connection lost" }),
      ),
    ]);
    expect((await standbyRound(standby)).restored).toMatchObject({ key: exported.key, verified: true });
    expect(await readState(env.DB, "restoring")).toBeNull();
    expect(await count("SELECT COUNT(*) AS n FROM recipients WHERE address = 'carol@example.com'")).toBe(1);
    expect((await standbyRound(standby)).restored).toBeNull();
    const status = (await (await apiAs({ HUB_ROLE: "standby" }, "/api/v1/backups/standby")).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ role: "standby", applied: { key: exported.key }, primary: { up: true } });
  });

  it("holds mail it takes for the primary, syncs edges while the primary is down, and hands the mail back (same delivery ids) once it is up", async () => {
    await seed();
    await setRoute("example.com", WEBHOOK);
    const down = fakePrimary(null);
    const standby = standbyEnv(down);
    const deliveries = [
      testDelivery(["alice@example.com"]),
      testDelivery(["bob@example.com"]),
      testDelivery(["carol@example.com"], { verdict: { action: "quarantine", scl: 7, agents: [] } }),
    ];
    for (const d of deliveries) expect((await storeDelivery(standby, d)).status).toBe("stored");
    // Held: no onward step (the primary routes it), even though the domain has a webhook route.
    const ids = deliveries.map((d) => d.deliveryId);
    expect(await count(`SELECT COUNT(*) AS n FROM messages WHERE standby_state = 'held' AND delivery_id IN (?, ?, ?)`, ...ids)).toBe(3);
    expect(await count(`SELECT COUNT(*) AS n FROM onward o JOIN messages m ON m.id = o.message_id WHERE m.delivery_id IN (?, ?, ?)`, ...ids)).toBe(0);
    // The same delivery again (an edge retry) is still one held message.
    expect((await storeDelivery(standby, deliveries[0]!)).status).toBe("duplicate");

    // Primary down: nothing is handed back, the standby runs the EdgeSync round itself.
    const whileDown = await standbyRound(standby);
    expect(whileDown.primary).toMatchObject({ up: false, error: "connection refused" });
    expect(whileDown.handBack).toBeNull();
    expect(whileDown.sync?.edges.map((e) => e.id)).toEqual(["edge-a"]);
    expect(down.handed).toEqual([]);

    // Primary back: every held message is handed back with its own delivery id and bytes. The
    // primary had already stored the first (its answer was lost as it died): a duplicate.
    const up = fakePrimary(env.HUB_ID, (d) => (d.deliveryId === ids[0] ? { status: "duplicate", id: 7 } : { status: "stored", id: 8 }));
    const back = await standbyRound(standbyEnv(up));
    expect(back.sync).toBeNull();
    expect(back.handBack).toEqual({ handedBack: 3, duplicates: 1, failed: 0, remaining: 0 });
    expect(up.handed.map((d) => d.deliveryId).sort()).toEqual([...ids].sort());
    const handed = new Map(up.handed.map((d) => [d.deliveryId, d]));
    for (const d of deliveries) {
      const h = handed.get(d.deliveryId)!;
      expect(h.raw).toEqual(d.raw);
      expect(h.envelope).toEqual(d.envelope);
      expect(h.verdict.action).toBe(d.verdict.action);
      expect(h.receivedAt).toBe(d.receivedAt);
    }
    expect(await count(`SELECT COUNT(*) AS n FROM messages WHERE standby_state = 'handed_back' AND delivery_id IN (?, ?, ?)`, ...ids)).toBe(3);
    // Handed back once: the next round hands nothing.
    expect((await standbyRound(standbyEnv(up))).handBack).toEqual({ handedBack: 0, duplicates: 0, failed: 0, remaining: 0 });
    expect(up.handed).toHaveLength(3);
  });

  it("keeps a message the primary refuses held, with the reason, and hands back the ones after it", async () => {
    const d = testDelivery(["alice@example.com"]);
    const after = testDelivery(["bob@example.com"]);
    const refusing = fakePrimary(env.HUB_ID, (x) => (x.deliveryId === d.deliveryId ? { status: "refused", error: "bad bytes" } : { status: "stored", id: 9 }));
    const standby = standbyEnv(refusing);
    expect((await storeDelivery(standby, d)).status).toBe("stored");
    expect((await storeDelivery(standby, after)).status).toBe("stored");
    expect((await standbyRound(standby)).handBack).toMatchObject({ handedBack: 1, failed: 1, remaining: 1 });
    expect(await count("SELECT COUNT(*) AS n FROM messages WHERE delivery_id = ? AND standby_state = 'handed_back'", after.deliveryId)).toBe(1);
    const row = await env.DB.prepare("SELECT standby_state, standby_error FROM messages WHERE delivery_id = ?").bind(d.deliveryId).first();
    expect(row).toEqual({ standby_state: "held", standby_error: "refused by the primary: bad bytes" });
  });

  it("a promoted standby (HUB_ROLE primary again) releases held mail to onward routing", async () => {
    await setRoute("example.com", WEBHOOK);
    // Whatever earlier tests left held is released too; this message is one of them.
    const d = testDelivery(["alice@example.com"]);
    await storeDelivery(standbyEnv(fakePrimary(null)), d);
    const before = await count("SELECT COUNT(*) AS n FROM messages WHERE standby_state = 'held'");
    const held = await env.DB.prepare("SELECT id, delivery_id FROM messages WHERE delivery_id = ?")
      .bind(d.deliveryId)
      .all<{ id: number; delivery_id: string }>();
    expect(await releaseHeld(env)).toBe(before);
    expect(await count("SELECT COUNT(*) AS n FROM messages WHERE standby_state = 'released' AND id = ?", held.results[0]!.id)).toBe(1);
    // The domain's webhook route: one onward step, as ingest on a primary would have written.
    expect(await count("SELECT COUNT(*) AS n FROM onward WHERE message_id = ? AND kind = 'webhook'", held.results[0]!.id)).toBe(1);
    expect(await releaseHeld(env)).toBe(0);
  });
});
