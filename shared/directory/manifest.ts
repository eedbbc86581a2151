/**
 * The manifest names every blob of one directory version. Its SHA-256 is the version's root
 * hash: two edges reporting the same root hash hold identical data. The manifest carries no
 * timestamp or author, so the same build inputs always give the same root.
 */
export interface Manifest {
  format: 2;
  /** Id of the {@link DirectoryKey} the recipient hashes were made with. */
  keyId: string;
  recipients: {
    /** Addresses (primary and aliases) in this version. */
    count: number;
    shardBits: number;
    /** Blob hash of each base shard, index = hash prefix. */
    shards: string[];
    /** Base64 of the overlay: changes since the base shards were built (see overlay.ts). */
    overlay: string;
  };
  /** Blob hash of the accepted-domains blob. */
  domains: string;
  /** Blob hash of each policy object, by name. */
  policies: Record<string, string>;
}

/** The accepted-domains blob. */
export interface DomainsBlob {
  format: 1;
  domains: { name: string }[];
}

const HASH = /^[0-9a-f]{64}$/;
const isHash = (h: unknown): h is string => typeof h === "string" && HASH.test(h);

/** Parses and validates manifest bytes; throws on anything that is not a well-formed manifest. */
export function parseManifest(bytes: Uint8Array): Manifest {
  const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
  const m = value as Manifest;
  const ok =
    typeof value === "object" &&
    value !== null &&
    m.format === 2 &&
    typeof m.keyId === "string" &&
    isHash(m.domains) &&
    typeof m.policies === "object" &&
    m.policies !== null &&
    Object.values(m.policies).every(isHash) &&
    typeof m.recipients === "object" &&
    m.recipients !== null &&
    Number.isInteger(m.recipients.count) &&
    Number.isInteger(m.recipients.shardBits) &&
    typeof m.recipients.overlay === "string" &&
    Array.isArray(m.recipients.shards) &&
    m.recipients.shards.length === 2 ** m.recipients.shardBits &&
    m.recipients.shards.every(isHash);
  if (!ok) throw new Error("malformed directory manifest");
  return m;
}

/** Every blob hash a manifest refers to (duplicates removed). */
export function manifestBlobs(m: Manifest): string[] {
  return [...new Set([m.domains, ...Object.values(m.policies), ...m.recipients.shards])];
}

export function parseDomainsBlob(bytes: Uint8Array): DomainsBlob {
  const value = JSON.parse(new TextDecoder().decode(bytes)) as DomainsBlob;
  if (value?.format !== 1 || !Array.isArray(value.domains) || value.domains.some((d) => typeof d?.name !== "string")) {
    throw new Error("malformed domains blob");
  }
  return value;
}
