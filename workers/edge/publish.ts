import { WorkerEntrypoint } from "cloudflare:workers";
import { sha256Hex } from "../../shared/directory/hash.ts";
import { manifestBlobs, parseManifest } from "../../shared/directory/manifest.ts";
import { blobKey, invalidateVersion, leaseStub } from "./directory.ts";
import type { DirectoryVersion, EdgeDirectoryApi, EdgeStatus } from "../../shared/directory/publish-api.ts";

/** Largest blob accepted from a hub: KV's own value limit. */
const MAX_BLOB_BYTES = 25 * 1024 * 1024;

/** KV lists at most 1,000 keys a page. */
const KV_LIST_PAGE = 1000;

/**
 * How a hub publishes a directory snapshot to this edge: write the missing blobs, then commit the
 * root hash. Reachable only through a service binding — a named entrypoint is never served on the
 * public internet. The edge never writes directory data of its own.
 */
export class EdgeDirectory extends WorkerEntrypoint<Env> implements EdgeDirectoryApi {
  async status(): Promise<EdgeStatus> {
    return { edgeId: this.env.EDGE_ID, current: await leaseStub(this.env).current() };
  }

  /** Which of these blob hashes this edge does not hold yet. */
  async missing(hashes: string[]): Promise<string[]> {
    const present = await this.#presentBlobs();
    return hashes.filter((h) => !present.has(h));
  }

  /** Stores blobs; each must hash to the name it is stored under. */
  async putBlobs(blobs: { hash: string; bytes: Uint8Array }[]): Promise<number> {
    for (const { hash, bytes } of blobs) {
      if (bytes.byteLength > MAX_BLOB_BYTES) throw new Error(`blob ${hash.slice(0, 12)} exceeds ${MAX_BLOB_BYTES} bytes`);
      if ((await sha256Hex(bytes)) !== hash) throw new Error(`blob ${hash.slice(0, 12)} does not match its hash`);
    }
    await Promise.all(blobs.map(({ hash, bytes }) => this.env.DIRECTORY.put(blobKey(hash), bytes)));
    return blobs.length;
  }

  /** Switches the edge to the version whose manifest hashes to `root`, once every blob it names is here. */
  async commit(root: string): Promise<DirectoryVersion> {
    const manifestBytes = await this.env.DIRECTORY.get(blobKey(root), "arrayBuffer");
    if (manifestBytes === null) throw new Error(`manifest ${root.slice(0, 12)} has not been written`);
    const bytes = new Uint8Array(manifestBytes);
    if ((await sha256Hex(bytes)) !== root) throw new Error(`manifest ${root.slice(0, 12)} is damaged`);
    const absent = await this.missing(manifestBlobs(parseManifest(bytes)));
    if (absent.length > 0) throw new Error(`${absent.length} blob(s) named by manifest ${root.slice(0, 12)} are missing`);
    const committed = await leaseStub(this.env).commit(root);
    invalidateVersion();
    return committed;
  }

  async #presentBlobs(): Promise<Set<string>> {
    const present = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await this.env.DIRECTORY.list({ prefix: "blob/", limit: KV_LIST_PAGE, cursor });
      for (const k of page.keys) present.add(k.name.slice("blob/".length));
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor !== undefined);
    return present;
  }
}
