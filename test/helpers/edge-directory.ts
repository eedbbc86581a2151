import { env, exports } from "cloudflare:workers";
import { DirectoryKey } from "../../shared/directory/hash.ts";
import { type PushResult, pushSnapshot } from "../../shared/directory/publish.ts";
import type { EdgeDirectoryApi } from "../../shared/directory/publish-api.ts";
import { buildSnapshot, type DirectoryData } from "../../shared/directory/snapshot.ts";

/** The demo directory `npm start` seeds. */
export const DEMO_DIRECTORY: DirectoryData = { domains: ["example.com"], recipients: ["alice@example.com", "bob@example.com"] };

/**
 * Publishes a directory to the edge under test through its own EdgeDirectory entrypoint — the
 * same RPC surface and the same push code the hub uses.
 */
export async function seedEdgeDirectory(data: DirectoryData = DEMO_DIRECTORY): Promise<PushResult> {
  const snapshot = await buildSnapshot(data, await DirectoryKey.import(env.DIRECTORY_KEY));
  return pushSnapshot(exports.EdgeDirectory as unknown as EdgeDirectoryApi, snapshot);
}
