import { DirectoryKey } from "../../shared/directory/hash.ts";
import { type BlobSource, SnapshotError, SnapshotReader } from "../../shared/directory/reader.ts";
import { DIRECTORY_CACHE_MAX_BYTES, DIRECTORY_POINTER_TTL_MS } from "../../shared/limits.ts";
import type { DirectoryVersion } from "../../shared/directory/publish-api.ts";
import type { DirectoryLease } from "./lease.do.ts";

/** KV key of a content-addressed blob. */
export const blobKey = (hash: string): string => `blob/${hash}`;

/** Blobs never change (their key is their hash), so KV may cache them at the edge for a long time. */
const BLOB_CACHE_TTL_SECONDS = 86_400;

/** The one Durable Object of this edge deployment. */
export function leaseStub(env: Env): DurableObjectStub<DirectoryLease> {
  return env.DIRECTORY_LEASE.get(env.DIRECTORY_LEASE.idFromName("directory"));
}

/**
 * Isolate-wide caches. Blobs are immutable, so a cached blob is never stale; the version pointer
 * is re-read from the Durable Object at most every DIRECTORY_POINTER_TTL_MS.
 */
class BlobCache {
  readonly #entries = new Map<string, Uint8Array>();
  #bytes = 0;

  get(hash: string): Uint8Array | undefined {
    const hit = this.#entries.get(hash);
    if (hit !== undefined) {
      // Map keeps insertion order: re-inserting marks it most recently used.
      this.#entries.delete(hash);
      this.#entries.set(hash, hit);
    }
    return hit;
  }

  set(hash: string, bytes: Uint8Array): void {
    if (bytes.byteLength > DIRECTORY_CACHE_MAX_BYTES) return;
    this.#entries.set(hash, bytes);
    this.#bytes += bytes.byteLength;
    for (const [oldest, value] of this.#entries) {
      if (this.#bytes <= DIRECTORY_CACHE_MAX_BYTES) break;
      this.#entries.delete(oldest);
      this.#bytes -= value.byteLength;
    }
  }
}

const blobCache = new BlobCache();
let pointer: { version: DirectoryVersion | null; readAt: number } | undefined;
let reader: { root: string; secret: string; reader: Promise<SnapshotReader> } | undefined;

function kvBlobSource(env: Env): BlobSource {
  return {
    async get(hash) {
      const cached = blobCache.get(hash);
      if (cached !== undefined) return cached;
      const value = await env.DIRECTORY.get(blobKey(hash), { type: "arrayBuffer", cacheTtl: BLOB_CACHE_TTL_SECONDS });
      if (value === null) return null;
      const bytes = new Uint8Array(value);
      blobCache.set(hash, bytes);
      return bytes;
    },
  };
}

/** The directory version this edge currently enforces (cached briefly per isolate). */
export async function currentVersion(env: Env, now = Date.now()): Promise<DirectoryVersion | null> {
  if (pointer === undefined || now - pointer.readAt > DIRECTORY_POINTER_TTL_MS) {
    pointer = { version: await leaseStub(env).current(), readAt: now };
  }
  return pointer.version;
}

/** Forgets the cached pointer, so the next message sees a commit made in this isolate at once. */
export function invalidateVersion(): void {
  pointer = undefined;
}

/**
 * Opens the current directory version. Throws {@link SnapshotError} when there is none or it
 * cannot be used: the caller defers the message rather than bouncing it.
 */
export async function openDirectory(env: Env): Promise<SnapshotReader> {
  const version = await currentVersion(env);
  if (version === null) throw new SnapshotError("no directory version has been committed to this edge yet");
  const secret = env.DIRECTORY_KEY;
  if (reader === undefined || reader.root !== version.root || reader.secret !== secret) {
    const opening = DirectoryKey.cached(secret).then((k) => SnapshotReader.open(version.root, k, kvBlobSource(env)));
    reader = { root: version.root, secret, reader: opening };
    // Do not keep a failed open (a KV hiccup) for the rest of the isolate's life.
    opening.catch(() => {
      if (reader?.reader === opening) reader = undefined;
    });
  }
  return reader.reader;
}
