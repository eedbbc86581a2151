import { DirectoryKey } from "../../../shared/directory/hash.ts";
import { type PushResult, pushSnapshot } from "../../../shared/directory/publish.ts";
import type { EdgeDirectoryApi } from "../../../shared/directory/publish-api.ts";
import { buildSnapshot } from "../../../shared/directory/snapshot.ts";
import { loadDirectory } from "../db/directory.ts";

export interface PublishResult extends PushResult {
  recipients: number;
}

/**
 * Builds the snapshot of the hub's directory (D1) and publishes it to the edge bound as EDGE.
 * Idempotent: publishing unchanged data writes nothing.
 */
export async function publishDirectory(env: Env): Promise<PublishResult> {
  const key = await DirectoryKey.import(env.DIRECTORY_KEY);
  const snapshot = await buildSnapshot(await loadDirectory(env.DB), key);
  // The EDGE binding speaks the shared contract (typed here, since each worker's Env is generated alone).
  const pushed = await pushSnapshot(env.EDGE as unknown as EdgeDirectoryApi, snapshot);
  return { ...pushed, recipients: snapshot.manifest.recipients.count };
}
