import type { EdgeDirectoryApi } from "./publish-api.ts";
import type { BlobSource } from "./reader.ts";

/** Bytes of blobs sent to an edge in one call, well under the RPC message size limit. */
export const PUBLISH_BATCH_BYTES = 8 * 1024 * 1024;

/** How long a hub's lease lasts; renewed between batches, so a slow but alive hub keeps it. */
export const LEASE_TTL_MS = 30_000;

export type PushResult =
  | { status: "committed" | "unchanged"; edgeId: string; root: string; version: number; blobsWritten: number; bytesWritten: number }
  | { status: "busy"; edgeId: string; holder: string; expiresAt: number }
  | { status: "failed"; edgeId: string; error: string };

/**
 * Publishes one snapshot to one edge, Exchange's EdgeSync done safely: take the edge's lease (a
 * busy lease is a normal outcome — retry at the next tick), ask which blobs it lacks, write only
 * those (renewing the lease between batches), commit the root hash under the lease's fencing
 * token, release. The commit is the only step readers can observe, and it happens after every
 * blob is in place, so no partial snapshot is ever visible; a hub that dies mid-way leaves the
 * previous version whole and its lease expires.
 *
 * @example
 * await pushSnapshot(edge, "hub-primary", root, blobHashes, r2BlobSource);
 */
export async function pushSnapshot(edge: EdgeDirectoryApi, holder: string, root: string, blobHashes: string[], blobs: BlobSource): Promise<PushResult> {
  const lease = await edge.acquire(holder, LEASE_TTL_MS);
  const status = await edge.status();
  if (!lease.ok) return { status: "busy", edgeId: status.edgeId, holder: lease.holder, expiresAt: lease.expiresAt };
  const failed = (error: string): PushResult => ({ status: "failed", edgeId: status.edgeId, error });
  try {
    if (status.current?.root === root)
      return { status: "unchanged", edgeId: status.edgeId, root, version: status.current.version, blobsWritten: 0, bytesWritten: 0 };
    const missing = await edge.missing([...new Set([...blobHashes, root])]);
    let batch: { hash: string; bytes: Uint8Array }[] = [];
    let batchBytes = 0;
    let bytesWritten = 0;
    const flush = async (): Promise<string | null> => {
      if (batch.length === 0) return null;
      const put = await edge.putBlobs(lease.token, batch);
      batch = [];
      batchBytes = 0;
      if (!put.ok) return `writing blobs: ${put.reason}${put.detail ? ` (${put.detail})` : ""}`;
      const renewed = await edge.renew(lease.token, LEASE_TTL_MS);
      return renewed.ok ? null : `lease lost while writing: ${renewed.reason}`;
    };
    for (const hash of missing) {
      const bytes = await blobs.get(hash);
      if (bytes === null) return failed(`blob ${hash.slice(0, 12)} is missing from the hub's store`);
      if (batch.length > 0 && batchBytes + bytes.byteLength > PUBLISH_BATCH_BYTES) {
        const error = await flush();
        if (error !== null) return failed(error);
      }
      batch.push({ hash, bytes });
      batchBytes += bytes.byteLength;
      bytesWritten += bytes.byteLength;
    }
    const error = await flush();
    if (error !== null) return failed(error);
    const committed = await edge.commit(lease.token, root);
    if (!committed.ok) return failed(`commit refused: ${committed.reason}${committed.detail ? ` (${committed.detail})` : ""}`);
    return { status: "committed", edgeId: status.edgeId, root, version: committed.version.version, blobsWritten: missing.length, bytesWritten };
  } finally {
    await edge.release(lease.token).catch(() => false);
  }
}
