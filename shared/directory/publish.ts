import type { EdgeDirectoryApi } from "./publish-api.ts";
import type { Snapshot } from "./snapshot.ts";

/** Bytes of blobs sent to an edge in one call, well under the RPC message size limit. */
export const PUBLISH_BATCH_BYTES = 8 * 1024 * 1024;

export interface PushResult {
  edgeId: string;
  root: string;
  version: number;
  /** False when the edge already enforced this root: nothing was written. */
  changed: boolean;
  /** Blobs written to the edge's KV (only the ones it lacked). */
  blobsWritten: number;
}

/**
 * Publishes a snapshot to one edge: asks which blobs it lacks, writes only those, then commits
 * the root hash. The commit is the only step the edge's readers can observe, and it happens after
 * every blob is in place, so no partial snapshot is ever visible.
 *
 * @example
 * await pushSnapshot(env.EDGE, await buildSnapshot(data, key));
 */
export async function pushSnapshot(edge: EdgeDirectoryApi, snapshot: Snapshot): Promise<PushResult> {
  const status = await edge.status();
  if (status.current?.root === snapshot.root) {
    return { edgeId: status.edgeId, root: snapshot.root, version: status.current.version, changed: false, blobsWritten: 0 };
  }
  const missing = await edge.missing([...snapshot.blobs.keys()]);
  let batch: { hash: string; bytes: Uint8Array }[] = [];
  let batchBytes = 0;
  for (const hash of missing) {
    const bytes = snapshot.blobs.get(hash)!;
    if (batch.length > 0 && batchBytes + bytes.byteLength > PUBLISH_BATCH_BYTES) {
      await edge.putBlobs(batch);
      batch = [];
      batchBytes = 0;
    }
    batch.push({ hash, bytes });
    batchBytes += bytes.byteLength;
  }
  if (batch.length > 0) await edge.putBlobs(batch);
  const committed = await edge.commit(snapshot.root);
  return { edgeId: status.edgeId, root: snapshot.root, version: committed.version, changed: true, blobsWritten: missing.length };
}
