import { normaliseAddress } from "../../../shared/directory/address.ts";
import { type Entry } from "../../../shared/directory/entry.ts";
import { type Manifest, manifestBlobs, parseManifest } from "../../../shared/directory/manifest.ts";
import { OVERLAY_MAX_ENTRIES, type OverlayChange } from "../../../shared/directory/overlay.ts";
import type { BlobSource } from "../../../shared/directory/reader.ts";
import { encodeSortedShard, shardBitsFor, shardIndex } from "../../../shared/directory/shard.ts";
import { BlobSet, domainsBlob, finishSnapshot, policyBlob } from "../../../shared/directory/snapshot.ts";
import { DirectoryKey, toHex } from "../../../shared/directory/hash.ts";
import { isPolicyName, policyForEdge } from "../../../shared/policy.ts";
import { DEFAULT_MODEL, MODEL_INFO } from "../../../shared/hygiene/content/default-model.ts";

/** The shipped model's version: its format and the SHA-256 of its bytes. */
const DEFAULT_MODEL_VERSION = `${MODEL_INFO.format}-${MODEL_INFO.sha256.slice(0, 16)}`;
import {
  changedHashesSince,
  countAddresses,
  entriesByHash,
  entriesForHashes,
  insertAddressRows,
  latestChangeSeq,
  listDomainNames,
  listPolicies,
  recipientsWithoutAddresses,
} from "../db/directory.ts";
import { latestSnapshot, recordSnapshot, type SnapshotRow } from "../db/snapshots.ts";

/** R2 key of a snapshot blob in the hub's own store. */
export const hubBlobKey = (hash: string): string => `snapshots/blob/${hash}`;

/** Recipients hashed per pass when back-filling address rows. */
const BACKFILL_BATCH = 1000;

export interface CurrentSnapshot extends SnapshotRow {
  manifest: Manifest;
  /** Every blob the version needs, manifest included. */
  blobHashes: string[];
  /** True when this call built it. */
  built: boolean;
  kind: "full" | "overlay" | "existing";
}

/** The hub's blob store (R2) as a {@link BlobSource}. */
export function hubBlobs(env: Env): BlobSource {
  return {
    async get(hash) {
      const object = await env.MAILBOX.get(hubBlobKey(hash));
      return object === null ? null : new Uint8Array(await object.arrayBuffer());
    },
  };
}

/**
 * The snapshot of the directory as it is now, building one if D1 changed since the last build.
 * A small change set becomes an overlay on the last base (one new blob: the manifest); past
 * OVERLAY_MAX_ENTRIES changes, or with no base yet, the base shards are rebuilt from D1, streamed
 * in hash order so memory holds one shard at a time.
 */
export async function currentSnapshot(env: Env): Promise<CurrentSnapshot> {
  await backfillAddresses(env);
  const seq = await latestChangeSeq(env.DB);
  const latest = await latestSnapshot(env.DB);
  if (latest !== null && latest.throughSeq >= seq) {
    const manifest = await readManifest(env, latest.root);
    if (manifest !== null) return { ...latest, manifest, blobHashes: [latest.root, ...manifestBlobs(manifest)], built: false, kind: "existing" };
  }

  const key = await DirectoryKey.cached(env.DIRECTORY_KEY);
  const set = new BlobSet();
  const domains = await set.put(domainsBlob(await listDomainNames(env.DB)));
  const policies = await putPolicies(set, await listPolicies(env.DB), key);
  const count = await countAddresses(env.DB);

  let kind: "full" | "overlay" = "full";
  let baseSeq = seq;
  let shardBits = shardBitsFor(count);
  let shards: string[] | null = null;
  let overlay: OverlayChange[] = [];

  const base = latest === null ? null : await readManifest(env, latest.root);
  if (latest !== null && base !== null && base.keyId === key.id) {
    const changed = await changedHashesSince(env.DB, latest.baseSeq, OVERLAY_MAX_ENTRIES + 1);
    if (changed.length <= OVERLAY_MAX_ENTRIES) {
      const current = new Map((await entriesForHashes(env.DB, changed)).map((e) => [toHex(e.hash), e]));
      overlay = changed.map((hash) => ({ hash, entry: current.get(toHex(hash)) ?? null }));
      shards = base.recipients.shards;
      shardBits = base.recipients.shardBits;
      baseSeq = latest.baseSeq;
      kind = "overlay";
    }
  }
  if (shards === null)
    shards = await putShardsInOrder(entriesByHash(env.DB), set, shardBits, (hash, bytes) => env.MAILBOX.put(hubBlobKey(hash), bytes, { sha256: hash }));

  const snapshot = await finishSnapshot(set, { keyId: key.id, count, shardBits, shards, overlay, domains, policies });
  // Blobs first, then the row that names them: a snapshot row never points at missing blobs.
  await Promise.all([...snapshot.blobs].map(([hash, bytes]) => env.MAILBOX.put(hubBlobKey(hash), bytes, { sha256: hash })));
  const row = { root: snapshot.root, baseSeq, throughSeq: seq, recipients: count, overlayEntries: overlay.length };
  await recordSnapshot(env.DB, row);
  return {
    ...row,
    createdAt: new Date().toISOString(),
    manifest: snapshot.manifest,
    blobHashes: [snapshot.root, ...manifestBlobs(snapshot.manifest)],
    built: true,
    kind,
  };
}

/**
 * The policy blobs of a snapshot, by name: every stored policy the edges know, as the edges get it.
 * The content filter's model ships with every snapshot: the one this hub was built with, unless an
 * administrator set another.
 */
async function putPolicies(set: BlobSet, stored: Record<string, unknown>, key: DirectoryKey): Promise<Record<string, string>> {
  stored["content-model"] ??= { version: DEFAULT_MODEL_VERSION, model: DEFAULT_MODEL };
  const policies: Record<string, string> = {};
  for (const [name, body] of Object.entries(stored)) {
    if (isPolicyName(name)) policies[name] = await set.put(policyBlob(await policyForEdge(name, body, key)));
  }
  return policies;
}

/**
 * Encodes 2^bits shards from address entries given in ascending hash order, handing each finished
 * shard to `store` and dropping it from the set, so a build never holds more than one in memory.
 * Returns the shard hashes.
 */
async function putShardsInOrder(
  pages: AsyncIterable<Entry[]> | Iterable<Entry[]>,
  set: BlobSet,
  bits: number,
  store: (hash: string, bytes: Uint8Array) => Promise<unknown>,
): Promise<string[]> {
  const shards: string[] = [];
  let index = 0;
  let pending: Entry[] = [];
  const closeThrough = async (upTo: number): Promise<void> => {
    while (index < upTo) {
      const bytes = encodeSortedShard(pending);
      const hash = await set.put(bytes);
      await store(hash, bytes);
      set.blobs.delete(hash);
      shards.push(hash);
      pending = [];
      index++;
    }
  };
  for await (const page of pages) {
    for (const entry of page) {
      const at = shardIndex(entry.hash, bits);
      if (at !== index) await closeThrough(at);
      pending.push(entry);
    }
  }
  await closeThrough(2 ** bits);
  return shards;
}

/**
 * The root hash a full build (no overlay) of this directory gives — what a hub whose snapshot
 * history is empty, one just restored from an export, builds from the same rows and key — from
 * entries given page by page (ascending hash order), holding one shard at a time. Nothing is
 * stored. `count` must be the number of entries the pages hold: the shard layout depends on it.
 */
export async function streamedFullBuildRoot(
  data: { domains: string[]; policies: Record<string, unknown>; count: number; pages: AsyncIterable<Entry[]> | Iterable<Entry[]> },
  key: DirectoryKey,
): Promise<string> {
  const set = new BlobSet();
  const domains = await set.put(domainsBlob(data.domains));
  const policies = await putPolicies(set, data.policies, key);
  const shardBits = shardBitsFor(data.count);
  const shards = await putShardsInOrder(data.pages, set, shardBits, async () => undefined);
  const snapshot = await finishSnapshot(set, { keyId: key.id, count: data.count, shardBits, shards, overlay: [], domains, policies });
  return snapshot.root;
}

/** The root hash a full build of the directory now in D1 gives, read page by page. */
export async function storedFullBuildRoot(db: D1Database, key: DirectoryKey): Promise<string> {
  const [domains, policies, count] = await Promise.all([listDomainNames(db), listPolicies(db), countAddresses(db)]);
  return streamedFullBuildRoot({ domains, policies, count, pages: entriesByHash(db) }, key);
}

async function readManifest(env: Env, root: string): Promise<Manifest | null> {
  const bytes = await hubBlobs(env).get(root);
  return bytes === null ? null : parseManifest(bytes);
}

/**
 * Gives every recipient row a hashed primary-address row. Rows written through the admin API
 * already have one; this covers directories created before addresses were hashed at write time.
 */
async function backfillAddresses(env: Env): Promise<void> {
  for (;;) {
    const missing = await recipientsWithoutAddresses(env.DB, BACKFILL_BATCH);
    if (missing.length === 0) return;
    const key = await DirectoryKey.cached(env.DIRECTORY_KEY);
    const rows = await Promise.all(
      missing.map(async (r) => {
        const address = normaliseAddress(r.address) ?? r.address;
        return { address, recipient: r.address, domain: r.domain, hash: await key.hashAddress(address) };
      }),
    );
    await insertAddressRows(env.DB, rows);
    if (missing.length < BACKFILL_BATCH) return;
  }
}
