import { DirectoryKey, toHex } from "./hash.ts";
import { mapBlobSource, SnapshotReader } from "./reader.ts";
import { buildSnapshot, type DirectoryData } from "./snapshot.ts";

/**
 * A directory held in memory, in the same snapshot format the edge reads from KV. Used by
 * `portcullis scan --policy` and by tests. The key is random unless given: nothing is stored.
 *
 * @example
 * const directory = await memoryDirectory({ domains: ["example.com"], recipients: ["alice@example.com"] });
 * await directory.isRecipient("alice@example.com"); // true
 */
export async function memoryDirectory(data: DirectoryData, secret?: string): Promise<SnapshotReader> {
  const key = await DirectoryKey.import(secret ?? toHex(crypto.getRandomValues(new Uint8Array(32))));
  const snapshot = await buildSnapshot(data, key);
  return SnapshotReader.open(snapshot.root, key, mapBlobSource(snapshot.blobs));
}
