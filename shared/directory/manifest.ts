/**
 * The manifest names every blob of one directory version. Its SHA-256 is the version's root
 * hash: two edges reporting the same root hash hold identical data. The manifest carries no
 * timestamp or author, so the same data always yields the same root, whichever hub built it.
 */
export interface Manifest {
  format: 1;
  /** Id of the {@link DirectoryKey} the recipient hashes were made with. */
  keyId: string;
  recipients: {
    count: number;
    shardBits: number;
    /** Blob hash of each shard, index = hash prefix. */
    shards: string[];
  };
  /** Blob hash of the accepted-domains blob. */
  domains: string;
}

/** The accepted-domains blob. */
export interface DomainsBlob {
  format: 1;
  domains: { name: string }[];
}

const HASH = /^[0-9a-f]{64}$/;

/** Parses and validates manifest bytes; throws on anything that is not a well-formed manifest. */
export function parseManifest(bytes: Uint8Array): Manifest {
  const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
  const m = value as Manifest;
  const ok =
    typeof value === "object" &&
    value !== null &&
    m.format === 1 &&
    typeof m.keyId === "string" &&
    typeof m.domains === "string" &&
    HASH.test(m.domains) &&
    typeof m.recipients === "object" &&
    m.recipients !== null &&
    Number.isInteger(m.recipients.count) &&
    Number.isInteger(m.recipients.shardBits) &&
    Array.isArray(m.recipients.shards) &&
    m.recipients.shards.length === 2 ** m.recipients.shardBits &&
    m.recipients.shards.every((h) => typeof h === "string" && HASH.test(h));
  if (!ok) throw new Error("malformed directory manifest");
  return m;
}

/** Every blob hash a manifest refers to (duplicates removed). */
export function manifestBlobs(m: Manifest): string[] {
  return [...new Set([m.domains, ...m.recipients.shards])];
}

export function parseDomainsBlob(bytes: Uint8Array): DomainsBlob {
  const value = JSON.parse(new TextDecoder().decode(bytes)) as DomainsBlob;
  if (value?.format !== 1 || !Array.isArray(value.domains) || value.domains.some((d) => typeof d?.name !== "string")) {
    throw new Error("malformed domains blob");
  }
  return value;
}
