import { env, exports } from "cloudflare:workers";
import { DirectoryKey } from "../../shared/directory/hash.ts";
import { type PushResult, pushSnapshot } from "../../shared/directory/publish.ts";
import type { EdgeControlApi, EdgeDirectoryApi } from "../../shared/directory/publish-api.ts";
import { mapBlobSource } from "../../shared/directory/reader.ts";
import { buildSnapshot, type DirectoryData, type Snapshot } from "../../shared/directory/snapshot.ts";

/** The demo directory `npm start` seeds. */
export const DEMO_DIRECTORY: DirectoryData = { domains: ["example.com"], recipients: ["alice@example.com", "bob@example.com"] };

/** The edge under test's EdgeDirectory entrypoint: the RPC surface hubs use. */
export const edgeDirectory = (): EdgeControlApi => exports.EdgeDirectory as unknown as EdgeControlApi;

export async function snapshotOf(data: DirectoryData): Promise<Snapshot> {
  return buildSnapshot(data, await DirectoryKey.import(env.DIRECTORY_KEY));
}

/** Publishes a snapshot to the edge under test as hub `holder`, with the same code the hub uses. */
export async function publish(snapshot: Snapshot, holder = "test-hub", edge: EdgeDirectoryApi = edgeDirectory()): Promise<PushResult> {
  return pushSnapshot(edge, holder, snapshot.root, [...snapshot.blobs.keys()], mapBlobSource(snapshot.blobs));
}

/** Publishes a directory to the edge under test. */
export async function seedEdgeDirectory(data: DirectoryData = DEMO_DIRECTORY): Promise<PushResult> {
  return publish(await snapshotOf(data));
}
