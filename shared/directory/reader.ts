import { fromBase64 } from "../base64.ts";
import { withoutSubaddress } from "./address.ts";
import { infoOf, type RecipientInfo } from "./entry.ts";
import { type DirectoryKey, sha256Hex, toHex } from "./hash.ts";
import { type Manifest, parseDomainsBlob, parseManifest } from "./manifest.ts";
import { overlayLookup, overlaySize } from "./overlay.ts";
import { shardIndex, shardLookup, shardSize } from "./shard.ts";

/** Read access to the directory, as the hygiene agents see it. */
export interface DirectoryReader {
  /** The root hash of the version being read. */
  readonly root: string;
  isAcceptedDomain(domain: string): Promise<boolean>;
  /** The recipient a normalised address (or its address without a +tag) belongs to, or null. */
  lookupRecipient(address: string): Promise<RecipientInfo | null>;
  /** A policy object by name, or null when the directory has none. */
  policy(name: string): Promise<unknown>;
  /** The keyed hash (hex) of a normalised address: how per-recipient policy is keyed at the edge. */
  addressKey(address: string): Promise<string>;
}

/** Where snapshot blobs come from: KV at the edge, R2 or a Map at the hub, a Map in the CLI and tests. */
export interface BlobSource {
  get(hash: string): Promise<Uint8Array | null>;
}

/** A blob the snapshot names is missing or damaged: the snapshot cannot be trusted. */
export class SnapshotError extends Error {
  override name = "SnapshotError";
}

/**
 * Reads one directory version. The manifest (with its overlay) is read once; shards and policy
 * blobs are fetched on first use, checked against their content hash, and kept for the life of
 * this reader — so a cold lookup costs at most one blob read (callers cache readers per root).
 */
export class SnapshotReader implements DirectoryReader {
  readonly root: string;
  readonly manifest: Manifest;
  readonly #key: DirectoryKey;
  readonly #blobs: BlobSource;
  readonly #overlay: Uint8Array;
  readonly #loaded = new Map<string, Promise<unknown>>();

  private constructor(root: string, manifest: Manifest, key: DirectoryKey, blobs: BlobSource) {
    this.root = root;
    this.manifest = manifest;
    this.#key = key;
    this.#blobs = blobs;
    this.#overlay = fromBase64(manifest.recipients.overlay);
    overlaySize(this.#overlay); // validates the layout once
  }

  /** Opens the version whose manifest hashes to `root`. Throws {@link SnapshotError} if it is unusable. */
  static async open(root: string, key: DirectoryKey, blobs: BlobSource): Promise<SnapshotReader> {
    const manifest = parseManifest(await fetchVerified(blobs, root));
    if (manifest.keyId !== key.id) {
      throw new SnapshotError(`snapshot ${root.slice(0, 12)} was hashed with key ${manifest.keyId}, this edge has key ${key.id}`);
    }
    return new SnapshotReader(root, manifest, key, blobs);
  }

  /** Number of addresses in this version. */
  get recipientCount(): number {
    return this.manifest.recipients.count;
  }

  async isAcceptedDomain(domain: string): Promise<boolean> {
    const domains = await this.#load(this.manifest.domains, (b) => new Set(parseDomainsBlob(b).domains.map((d) => d.name)));
    return domains.has(domain);
  }

  async lookupRecipient(address: string): Promise<RecipientInfo | null> {
    const exact = await this.#lookup(address);
    if (exact !== null) return exact;
    const base = withoutSubaddress(address);
    return base === null ? null : this.#lookup(base);
  }

  async policy(name: string): Promise<unknown> {
    const hash = this.manifest.policies[name];
    if (hash === undefined) return null;
    return this.#load(hash, (b) => JSON.parse(new TextDecoder().decode(b)) as unknown);
  }

  async addressKey(address: string): Promise<string> {
    return toHex(await this.#key.hashAddress(address));
  }

  async #lookup(address: string): Promise<RecipientInfo | null> {
    const hash = await this.#key.hashAddress(address);
    const changed = overlayLookup(this.#overlay, hash);
    if (changed !== undefined) return changed === null ? null : infoOf(changed.flags, changed.scl);
    const shardHash = this.manifest.recipients.shards[shardIndex(hash, this.manifest.recipients.shardBits)]!;
    const shard = await this.#load(shardHash, (b) => {
      shardSize(b); // validates the layout once
      return b;
    });
    const found = shardLookup(shard, hash);
    return found === null ? null : infoOf(found.flags, found.scl);
  }

  /** Fetches, verifies and decodes a blob once; a failed read is not kept, so a KV hiccup heals. */
  #load<T>(hash: string, decode: (bytes: Uint8Array) => T): Promise<T> {
    let loading = this.#loaded.get(hash) as Promise<T> | undefined;
    if (loading === undefined) {
      loading = fetchVerified(this.#blobs, hash).then(decode);
      this.#loaded.set(hash, loading);
      loading.catch(() => this.#loaded.delete(hash));
    }
    return loading;
  }
}

async function fetchVerified(blobs: BlobSource, hash: string): Promise<Uint8Array> {
  const bytes = await blobs.get(hash);
  if (bytes === null) throw new SnapshotError(`directory blob ${hash.slice(0, 12)} is missing`);
  if ((await sha256Hex(bytes)) !== hash) throw new SnapshotError(`directory blob ${hash.slice(0, 12)} is damaged`);
  return bytes;
}

/** A {@link BlobSource} over a Map (CLI, tests). */
export function mapBlobSource(map: Map<string, Uint8Array>): BlobSource {
  return { get: async (hash) => map.get(hash) ?? null };
}
