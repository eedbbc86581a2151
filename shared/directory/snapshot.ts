import { toBase64 } from "../base64.ts";
import { normaliseAddress, normaliseDomain } from "./address.ts";
import { type Entry, entryFor } from "./entry.ts";
import { type DirectoryKey, sha256Hex } from "./hash.ts";
import type { DomainsBlob, Manifest } from "./manifest.ts";
import { encodeOverlay, type OverlayChange } from "./overlay.ts";
import { encodeShard, shardBitsFor, shardIndex } from "./shard.ts";

const encoder = new TextEncoder();

/** A recipient as an administrator describes it (in clear: hub-side and offline only). */
export interface RecipientRecord {
  address: string;
  aliases?: string[];
  rejectInternet?: boolean;
  sclOverride?: number | null;
}

/** Directory data in clear, as the CLI and tests give it. */
export interface DirectoryData {
  domains: string[];
  recipients: (string | RecipientRecord)[];
  policies?: Record<string, unknown>;
}

/** A built snapshot: the manifest, its root hash and every blob by content hash. */
export interface Snapshot {
  root: string;
  manifest: Manifest;
  /** Blob hash → bytes for the blobs this build produced, the manifest itself included (under the root hash). */
  blobs: Map<string, Uint8Array>;
}

/** Collects blobs by content hash while a snapshot is assembled. */
export class BlobSet {
  readonly blobs = new Map<string, Uint8Array>();

  async put(bytes: Uint8Array): Promise<string> {
    const hash = await sha256Hex(bytes);
    this.blobs.set(hash, bytes);
    return hash;
  }
}

/** The accepted-domains blob for some domain names (normalised, sorted, invalid ones dropped). */
export function domainsBlob(domains: string[]): Uint8Array {
  const names = [...new Set(domains.map(normaliseDomain).filter((d): d is string => d !== null))].sort();
  const blob: DomainsBlob = { format: 1, domains: names.map((name) => ({ name })) };
  return encoder.encode(JSON.stringify(blob));
}

/** A policy object as a blob (JSON with sorted keys, so equal policies hash equally). */
export function policyBlob(body: unknown): Uint8Array {
  return encoder.encode(
    JSON.stringify(body, (_, v: unknown) =>
      v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
    ),
  );
}

/** The parts of a manifest a builder supplies; {@link finishSnapshot} adds the rest. */
export interface SnapshotParts {
  keyId: string;
  count: number;
  shardBits: number;
  shards: string[];
  overlay: OverlayChange[];
  domains: string;
  policies: Record<string, string>;
}

/** Writes the manifest blob and returns the snapshot. */
export async function finishSnapshot(set: BlobSet, parts: SnapshotParts): Promise<Snapshot> {
  const manifest: Manifest = {
    format: 2,
    keyId: parts.keyId,
    recipients: { count: parts.count, shardBits: parts.shardBits, shards: parts.shards, overlay: toBase64(encodeOverlay(parts.overlay)) },
    domains: parts.domains,
    policies: Object.fromEntries(Object.entries(parts.policies).sort(([a], [b]) => (a < b ? -1 : 1))),
  };
  const root = await set.put(encoder.encode(JSON.stringify(manifest)));
  return { root, manifest, blobs: set.blobs };
}

/** Encodes entries into 2^shardBits shards and stores them; returns the shard hashes. */
export async function putShards(set: BlobSet, entries: Entry[], shardBits: number): Promise<string[]> {
  const buckets: Entry[][] = Array.from({ length: 2 ** shardBits }, () => []);
  for (const e of entries) buckets[shardIndex(e.hash, shardBits)]!.push(e);
  const shards: string[] = [];
  for (const bucket of buckets) shards.push(await set.put(encodeShard(bucket)));
  return shards;
}

/**
 * Builds a full snapshot (no overlay) from directory data in clear. Deterministic: the same data
 * and key give the same root hash. Invalid addresses and domains are dropped.
 *
 * @example
 * const snap = await buildSnapshot({ domains: ["example.com"], recipients: ["alice@example.com"] }, key);
 * snap.root // 64 hex digits
 */
export async function buildSnapshot(data: DirectoryData, key: DirectoryKey): Promise<Snapshot> {
  const set = new BlobSet();
  const domains = await set.put(domainsBlob(data.domains));
  const policies: Record<string, string> = {};
  for (const [name, body] of Object.entries(data.policies ?? {})) policies[name] = await set.put(policyBlob(body));

  const byAddress = new Map<string, RecipientRecord>();
  for (const r of data.recipients) {
    const record = typeof r === "string" ? { address: r } : r;
    for (const a of [record.address, ...(record.aliases ?? [])]) {
      const address = normaliseAddress(a);
      if (address !== null) byAddress.set(address, record);
    }
  }
  const entries = await Promise.all([...byAddress].map(async ([address, record]) => entryFor(await key.hashAddress(address), record)));
  const shardBits = shardBitsFor(entries.length);
  const shards = await putShards(set, entries, shardBits);
  return finishSnapshot(set, { keyId: key.id, count: entries.length, shardBits, shards, overlay: [], domains, policies });
}
