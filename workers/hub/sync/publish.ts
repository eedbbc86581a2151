import { DirectoryKey } from "../../../shared/directory/hash.ts";
import type { EdgeDirectoryApi } from "../../../shared/directory/publish-api.ts";
import { buildSnapshot } from "../../../shared/directory/snapshot.ts";
import { loadDirectory } from "../db/directory.ts";

/** Bytes of blobs sent to an edge in one RPC call, under the RPC message size limit. */
const PUBLISH_BATCH_BYTES = 8 * 1024 * 1024;

export interface PublishResult {
  edgeId: string;
  root: string;
  version: number;
  changed: boolean;
  blobsWritten: number;
  recipients: number;
}

/**
 * Builds the snapshot of the hub's directory and publishes it to the edge bound as EDGE: writes
 * only the blobs the edge lacks, then commits the root hash. Idempotent: publishing unchanged
 * data writes nothing.
 */
export async function publishDirectory(env: Env): Promise<PublishResult> {
  const edge = env.EDGE as unknown as EdgeDirectoryApi;
  const key = await DirectoryKey.import(env.DIRECTORY_KEY);
  const snapshot = await buildSnapshot(await loadDirectory(env.DB), key);
  const status = await edge.status();
  const base = { edgeId: status.edgeId, root: snapshot.root, recipients: snapshot.manifest.recipients.count };
  if (status.current?.root === snapshot.root) return { ...base, version: status.current.version, changed: false, blobsWritten: 0 };

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
  return { ...base, version: committed.version, changed: true, blobsWritten: missing.length };
}
