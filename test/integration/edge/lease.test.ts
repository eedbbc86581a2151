import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DirectoryKey } from "../../../shared/directory/hash.ts";
import { mapBlobSource, SnapshotReader } from "../../../shared/directory/reader.ts";
import { LEASE_TTL_MS, pushSnapshot } from "../../../shared/directory/publish.ts";
import type { EdgeDirectoryApi } from "../../../shared/directory/publish-api.ts";
import { blobKey } from "../../../workers/edge/directory.ts";
import { edgeDirectory, publish, snapshotOf } from "../../helpers/edge-directory.ts";

/** Wraps an edge so every lease a hub holds is logged as an interval [acquired, released]. */
function watched(edge: EdgeDirectoryApi, log: { holder: string; from: number; to: number }[]): EdgeDirectoryApi {
  const open = new Map<number, { holder: string; from: number }>();
  return {
    ...edge,
    status: () => edge.status(),
    missing: (h) => edge.missing(h),
    putBlobs: (t, b) => edge.putBlobs(t, b),
    commit: (t, r) => edge.commit(t, r),
    renew: (t, ms) => edge.renew(t, ms),
    lookup: (a) => edge.lookup(a),
    async acquire(holder, ttl) {
      const result = await edge.acquire(holder, ttl);
      if (result.ok) open.set(result.token, { holder, from: performance.now() });
      return result;
    },
    async release(token) {
      const held = open.get(token);
      const released = await edge.release(token);
      if (held !== undefined) log.push({ ...held, to: performance.now() });
      return released;
    },
  };
}

async function readerFor(root: string): Promise<SnapshotReader> {
  const key = await DirectoryKey.import(env.DIRECTORY_KEY);
  return SnapshotReader.open(root, key, {
    get: async (hash) => {
      const v = await env.DIRECTORY.get(blobKey(hash), "arrayBuffer");
      return v === null ? null : new Uint8Array(v);
    },
  });
}

describe("the edge's directory lease", () => {
  it.each([2, 3])("lets only one of %i racing hubs hold the lease and commit at a time, over many rounds", async (hubs) => {
    const snapshots = await Promise.all(
      Array.from({ length: hubs }, (_, i) =>
        snapshotOf({ domains: ["example.com"], recipients: [`hub${i}-user@example.com`, `round-user-${hubs}@example.com`] }),
      ),
    );
    const intervals: { holder: string; from: number; to: number }[] = [];
    const edge = watched(edgeDirectory(), intervals);
    const before = (await edge.status()).current?.version ?? 0;
    let committed = 0;
    const ROUNDS = 25;
    for (let round = 0; round < ROUNDS; round++) {
      // Each hub publishes a different directory, all at once; the lease must serialise them.
      const outcomes = await Promise.all(snapshots.map((s, i) => pushSnapshot(edge, `hub-${i}`, s.root, [...s.blobs.keys()], mapBlobSource(s.blobs))));
      for (const o of outcomes) expect(["committed", "unchanged", "busy"]).toContain(o.status);
      committed += outcomes.filter((o) => o.status === "committed").length;
      expect(outcomes.some((o) => o.status !== "busy")).toBe(true);
    }
    // No two leases ever overlapped in time…
    const sorted = [...intervals].sort((a, b) => a.from - b.from);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.from).toBeGreaterThanOrEqual(sorted[i - 1]!.to);
    // …every commit bumped the version exactly once…
    const status = await edge.status();
    expect(status.current!.version - before).toBe(committed);
    // …and the edge holds one of the hubs' snapshots, whole.
    const current = snapshots.find((s) => s.root === status.current!.root);
    expect(current).toBeDefined();
    const reader = await readerFor(status.current!.root);
    expect(await reader.lookupRecipient(`round-user-${hubs}@example.com`)).not.toBeNull();
  });

  it("keeps the previous version whole when a hub dies mid-sync, and lets the next hub complete after the lease expires", async () => {
    const v1 = await snapshotOf({ domains: ["example.com"], recipients: ["before@example.com"] });
    expect((await publish(v1, "hub-a")).status).toBe("committed");
    const edge = edgeDirectory();

    // hub-b takes a short lease, writes half of v2's blobs, and dies before committing.
    const v2 = await snapshotOf({ domains: ["example.com"], recipients: Array.from({ length: 9000 }, (_, i) => `after-${i}@example.com`) });
    // Long enough to write a blob on a loaded machine, short enough to wait out.
    const lease = await edge.acquire("hub-b", 1_000);
    if (!lease.ok) throw new Error("hub-b should get the lease");
    const blobs = [...v2.blobs].filter(([hash]) => hash !== v2.root).map(([hash, bytes]) => ({ hash, bytes }));
    expect((await edge.putBlobs(lease.token, blobs.slice(0, 1))).ok).toBe(true);

    // While its lease lives, nobody else can publish; the edge still serves v1, whole.
    expect((await publish(v2, "hub-c")).status).toBe("busy");
    expect((await edge.status()).current?.root).toBe(v1.root);
    const reader = await readerFor(v1.root);
    expect(await reader.lookupRecipient("before@example.com")).not.toBeNull();
    expect(await reader.lookupRecipient("after-1@example.com")).toBeNull();

    await new Promise((r) => setTimeout(r, 1_200));
    const completed = await publish(v2, "hub-c");
    expect(completed.status).toBe("committed");
    const after = await readerFor((await edge.status()).current!.root);
    expect(await after.lookupRecipient("after-8999@example.com")).not.toBeNull();
    expect(await after.lookupRecipient("before@example.com")).toBeNull();

    // The dead hub comes back and tries to finish: its token is stale.
    expect(await edge.commit(lease.token, v2.root)).toEqual({ ok: false, reason: "stale_token" });
    expect(await edge.putBlobs(lease.token, blobs)).toEqual({ ok: false, reason: "stale_token" });
  });

  it("refuses a commit with a stale or expired token, and one with no lease at all", async () => {
    const snap = await snapshotOf({ domains: ["example.net"], recipients: ["x@example.net"] });
    const edge = edgeDirectory();
    const first = await edge.acquire("hub-a", 600);
    if (!first.ok) throw new Error("lease expected");
    expect(
      (
        await edge.putBlobs(
          first.token,
          [...snap.blobs].map(([hash, bytes]) => ({ hash, bytes })),
        )
      ).ok,
    ).toBe(true);
    await new Promise((r) => setTimeout(r, 800));
    expect(await edge.commit(first.token, snap.root)).toEqual({ ok: false, reason: "expired" });
    const second = await edge.acquire("hub-b", LEASE_TTL_MS);
    if (!second.ok) throw new Error("lease expected after expiry");
    expect(second.token).toBeGreaterThan(first.token);
    expect(await edge.commit(first.token, snap.root)).toEqual({ ok: false, reason: "stale_token" });
    expect(await edge.renew(first.token, 1000)).toEqual({ ok: false, reason: "stale_token" });
    expect((await edge.commit(second.token, snap.root)).ok).toBe(true);
    expect(await edge.release(second.token)).toBe(true);
    expect(await edge.commit(second.token, snap.root)).toEqual({ ok: false, reason: "no_lease" });
  });

  it("refuses to commit a root whose blobs are not all there, and blobs that do not match their hash", async () => {
    const snap = await snapshotOf({ domains: ["example.com"], recipients: ["y@example.com"] });
    const edge = edgeDirectory();
    const lease = await edge.acquire("hub-a", LEASE_TTL_MS);
    if (!lease.ok) throw new Error("lease expected");
    expect(await edge.putBlobs(lease.token, [{ hash: snap.root, bytes: new Uint8Array([1, 2, 3]) }])).toMatchObject({ ok: false, reason: "bad_blob" });
    expect((await edge.putBlobs(lease.token, [{ hash: snap.root, bytes: snap.blobs.get(snap.root)! }])).ok).toBe(true);
    expect(await edge.commit(lease.token, snap.root)).toMatchObject({ ok: false, reason: "incomplete" });
    await edge.release(lease.token);
  });

  it("clears an expired lease with its alarm", async () => {
    const edge = edgeDirectory();
    const lease = await edge.acquire("hub-z", 50);
    expect(lease.ok).toBe(true);
    expect((await edge.status()).lease?.holder).toBe("hub-z");
    await new Promise((r) => setTimeout(r, 300));
    expect((await edge.status()).lease).toBeNull();
    expect((await edge.acquire("hub-y", 1000)).ok).toBe(true);
  });
});
