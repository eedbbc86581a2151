import { withoutSubaddress } from "./address.ts";
import { type DirectoryKey, sha256Hex } from "./hash.ts";
import { type Manifest, parseDomainsBlob, parseManifest } from "./manifest.ts";
import { shardContains, shardIndex, shardSize } from "./shard.ts";

/** Read access to the directory, as the hygiene agents see it. */
export interface DirectoryReader {
  /** The root hash of the version being read. */
  readonly root: string;
  isAcceptedDomain(domain: string): Promise<boolean>;
  /** Whether a normalised address (or its address without a +tag) is a known recipient. */
  isRecipient(address: string): Promise<boolean>;
}

/** Where snapshot blobs come from: KV at the edge, a Map in the CLI and tests. */
export interface BlobSource {
  get(hash: string): Promise<Uint8Array | null>;
}

/** A blob the snapshot names is missing or damaged: the snapshot cannot be trusted. */
export class SnapshotError extends Error {
  override name = "SnapshotError";
}

/**
 * Reads one directory version. Blobs are fetched lazily, checked against their content hash, and
 * kept for the life of this reader (callers cache readers per root hash).
 */
export class SnapshotReader implements DirectoryReader {
  readonly root: string;
  readonly manifest: Manifest;
  readonly #key: DirectoryKey;
  readonly #blobs: BlobSource;
  #domains: Promise<Set<string>> | undefined;
  readonly #shards = new Map<number, Promise<Uint8Array>>();

  private constructor(root: string, manifest: Manifest, key: DirectoryKey, blobs: BlobSource) {
    this.root = root;
    this.manifest = manifest;
    this.#key = key;
    this.#blobs = blobs;
  }

  /** Opens the version whose manifest hashes to `root`. Throws {@link SnapshotError} if it is unusable. */
  static async open(root: string, key: DirectoryKey, blobs: BlobSource): Promise<SnapshotReader> {
    const manifest = parseManifest(await fetchVerified(blobs, root));
    if (manifest.keyId !== key.id) {
      throw new SnapshotError(`snapshot ${root.slice(0, 12)} was hashed with key ${manifest.keyId}, this edge has key ${key.id}`);
    }
    return new SnapshotReader(root, manifest, key, blobs);
  }

  /** Number of recipients in this version. */
  get recipientCount(): number {
    return this.manifest.recipients.count;
  }

  async isAcceptedDomain(domain: string): Promise<boolean> {
    if (this.#domains === undefined) {
      const loading = fetchVerified(this.#blobs, this.manifest.domains).then((b) => new Set(parseDomainsBlob(b).domains.map((d) => d.name)));
      // A failed read (a KV hiccup) must not poison this reader for the rest of the isolate's life.
      loading.catch(() => {
        if (this.#domains === loading) this.#domains = undefined;
      });
      this.#domains = loading;
    }
    return (await this.#domains).has(domain);
  }

  async isRecipient(address: string): Promise<boolean> {
    if (await this.#contains(address)) return true;
    const base = withoutSubaddress(address);
    return base !== null && (await this.#contains(base));
  }

  async #contains(address: string): Promise<boolean> {
    const hash = await this.#key.hashAddress(address);
    const index = shardIndex(hash, this.manifest.recipients.shardBits);
    let shard = this.#shards.get(index);
    if (shard === undefined) {
      shard = fetchVerified(this.#blobs, this.manifest.recipients.shards[index]!).then((b) => {
        shardSize(b); // validates the layout once
        return b;
      });
      this.#shards.set(index, shard);
      shard.catch(() => this.#shards.delete(index));
    }
    return shardContains(await shard, hash);
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
