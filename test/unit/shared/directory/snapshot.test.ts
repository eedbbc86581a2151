import { describe, expect, it } from "vitest";
import { DirectoryKey } from "../../../../shared/directory/hash.ts";
import { manifestBlobs } from "../../../../shared/directory/manifest.ts";
import { mapBlobSource, SnapshotError, SnapshotReader } from "../../../../shared/directory/reader.ts";
import { buildSnapshot } from "../../../../shared/directory/snapshot.ts";

const SECRET = "unit-test-directory-key-0123456789";
const data = { domains: ["Example.com", "example.org"], recipients: ["Alice@example.com", "bob@example.com", "carol@example.org", "not an address"] };

describe("directory snapshot", () => {
  it("gives the same root hash for the same data, in any order", async () => {
    const key = await DirectoryKey.import(SECRET);
    const a = await buildSnapshot(data, key);
    const b = await buildSnapshot({ domains: [...data.domains].reverse(), recipients: [...data.recipients].reverse() }, key);
    expect(a.root).toMatch(/^[0-9a-f]{64}$/);
    expect(b.root).toBe(a.root);
  });

  it("changes the root hash when a recipient changes", async () => {
    const key = await DirectoryKey.import(SECRET);
    const a = await buildSnapshot(data, key);
    const b = await buildSnapshot({ ...data, recipients: [...data.recipients, "dave@example.com"] }, key);
    expect(b.root).not.toBe(a.root);
  });

  it("holds no recipient address in clear", async () => {
    const key = await DirectoryKey.import(SECRET);
    const snap = await buildSnapshot(data, key);
    const everything = [...snap.blobs.values()].map((b) => new TextDecoder("latin1").decode(b)).join("\n");
    expect(everything).not.toMatch(/alice|bob|carol/i);
    expect(everything).toContain("example.org"); // domains are public (they are in DNS anyway)
  });

  it("answers lookups from the snapshot, including +tags and case", async () => {
    const key = await DirectoryKey.import(SECRET);
    const snap = await buildSnapshot(data, key);
    const reader = await SnapshotReader.open(snap.root, key, mapBlobSource(snap.blobs));
    expect(reader.recipientCount).toBe(3);
    const plain = { rejectInternet: false, sclOverride: null };
    expect(await reader.lookupRecipient("alice@example.com")).toEqual(plain);
    expect(await reader.lookupRecipient("alice+lists@example.com")).toEqual(plain);
    expect(await reader.lookupRecipient("carol@example.org")).toEqual(plain);
    expect(await reader.lookupRecipient("mallory@example.com")).toBeNull();
    expect(await reader.lookupRecipient("alice@example.org")).toBeNull();
    expect(await reader.isAcceptedDomain("example.com")).toBe(true);
    expect(await reader.isAcceptedDomain("example.net")).toBe(false);
  });

  it("refuses a snapshot hashed with another key rather than calling everyone unknown", async () => {
    const snap = await buildSnapshot(data, await DirectoryKey.import(SECRET));
    const otherKey = await DirectoryKey.import("another-directory-key-0123456789");
    await expect(SnapshotReader.open(snap.root, otherKey, mapBlobSource(snap.blobs))).rejects.toThrow(SnapshotError);
  });

  it("detects missing and damaged blobs", async () => {
    const key = await DirectoryKey.import(SECRET);
    const snap = await buildSnapshot(data, key);
    const shard = snap.manifest.recipients.shards[0]!;
    const damaged = new Map(snap.blobs);
    damaged.set(shard, new Uint8Array([1, 2, 3]));
    const reader = await SnapshotReader.open(snap.root, key, mapBlobSource(damaged));
    await expect(reader.lookupRecipient("alice@example.com")).rejects.toThrow(/damaged/);
    const missing = new Map(snap.blobs);
    missing.delete(snap.root);
    await expect(SnapshotReader.open(snap.root, key, mapBlobSource(missing))).rejects.toThrow(/missing/);
  });

  it("lists every blob the manifest needs", async () => {
    const snap = await buildSnapshot(data, await DirectoryKey.import(SECRET));
    for (const hash of manifestBlobs(snap.manifest)) expect(snap.blobs.has(hash)).toBe(true);
    expect(snap.blobs.has(snap.root)).toBe(true);
  });

  it("carries aliases, per-recipient flags and policies", async () => {
    const key = await DirectoryKey.import(SECRET);
    const snap = await buildSnapshot(
      {
        domains: ["example.com"],
        recipients: [{ address: "dave@example.com", aliases: ["d.smith@example.com"], rejectInternet: true, sclOverride: 3 }, "erin@example.com"],
        policies: { thresholds: { reject: 7, quarantine: 5 } },
      },
      key,
    );
    const reader = await SnapshotReader.open(snap.root, key, mapBlobSource(snap.blobs));
    expect(reader.recipientCount).toBe(3);
    expect(await reader.lookupRecipient("d.smith@example.com")).toEqual({ rejectInternet: true, sclOverride: 3 });
    expect(await reader.lookupRecipient("dave@example.com")).toEqual({ rejectInternet: true, sclOverride: 3 });
    expect(await reader.lookupRecipient("erin@example.com")).toEqual({ rejectInternet: false, sclOverride: null });
    expect(await reader.policy("thresholds")).toEqual({ quarantine: 5, reject: 7 });
    expect(await reader.policy("absent")).toBeNull();
  });

  it("gives policies with the same content the same blob, whatever their key order", async () => {
    const key = await DirectoryKey.import(SECRET);
    const a = await buildSnapshot({ domains: [], recipients: [], policies: { p: { a: 1, b: { c: 2, d: 3 } } } }, key);
    const b = await buildSnapshot({ domains: [], recipients: [], policies: { p: { b: { d: 3, c: 2 }, a: 1 } } }, key);
    expect(b.root).toBe(a.root);
  });

  it("imports a key once per isolate and secret, and does not keep a failed import", async () => {
    const a = await DirectoryKey.cached(SECRET);
    expect(await DirectoryKey.cached(SECRET)).toBe(a);
    const b = await DirectoryKey.cached("another-directory-key-0123456789");
    expect(b).not.toBe(a);
    expect(b.id).not.toBe(a.id);
    await expect(DirectoryKey.cached("short")).rejects.toThrow(/at least 16/);
    await expect(DirectoryKey.cached("short")).rejects.toThrow(/at least 16/);
    expect((await DirectoryKey.cached(SECRET)).id).toBe(a.id);
  });

  it("refuses a short key", async () => {
    await expect(DirectoryKey.import("short")).rejects.toThrow(/at least 16/);
  });
});
