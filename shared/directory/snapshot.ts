import { normaliseAddress, normaliseDomain } from "./address.ts";
import { type DirectoryKey, sha256Hex } from "./hash.ts";
import type { DomainsBlob, Manifest } from "./manifest.ts";
import { encodeShard, shardBitsFor, shardIndex } from "./shard.ts";

const encoder = new TextEncoder();

/** What the hub publishes: accepted domains and recipient addresses, in clear, hub-side only. */
export interface DirectoryData {
  domains: string[];
  recipients: string[];
}

/** A built snapshot: the manifest, its root hash and every blob by content hash. */
export interface Snapshot {
  root: string;
  manifest: Manifest;
  /** Blob hash → bytes, the manifest itself included (under the root hash). */
  blobs: Map<string, Uint8Array>;
}

/**
 * Builds the edge snapshot for some directory data. Deterministic: the same data and key give
 * the same root hash. Invalid addresses and domains are dropped (the hub validates on input).
 *
 * @example
 * const snap = await buildSnapshot({ domains: ["example.com"], recipients: ["alice@example.com"] }, key);
 * snap.root // 64 hex digits
 */
export async function buildSnapshot(data: DirectoryData, key: DirectoryKey): Promise<Snapshot> {
  const blobs = new Map<string, Uint8Array>();
  const put = async (bytes: Uint8Array): Promise<string> => {
    const hash = await sha256Hex(bytes);
    blobs.set(hash, bytes);
    return hash;
  };

  const domainNames = [...new Set(data.domains.map(normaliseDomain).filter((d): d is string => d !== null))].sort();
  const domainsBlob: DomainsBlob = { format: 1, domains: domainNames.map((name) => ({ name })) };
  const domains = await put(encoder.encode(JSON.stringify(domainsBlob)));

  const addresses = [...new Set(data.recipients.map(normaliseAddress).filter((a): a is string => a !== null))];
  const hashes = await Promise.all(addresses.map((a) => key.hashAddress(a)));
  const shardBits = shardBitsFor(hashes.length);
  const buckets: Uint8Array[][] = Array.from({ length: 2 ** shardBits }, () => []);
  for (const h of hashes) buckets[shardIndex(h, shardBits)]!.push(h);
  const shards: string[] = [];
  for (const bucket of buckets) shards.push(await put(encodeShard(bucket)));

  const manifest: Manifest = { format: 1, keyId: key.id, recipients: { count: hashes.length, shardBits, shards }, domains };
  const root = await put(encoder.encode(JSON.stringify(manifest)));
  return { root, manifest, blobs };
}
