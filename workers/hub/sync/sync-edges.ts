import { type PushResult, pushSnapshot } from "../../../shared/directory/publish.ts";
import { type EdgeRecord, listEdges, recordAttempt } from "../db/edges.ts";
import { type CurrentSnapshot, currentSnapshot, hubBlobs } from "./build.ts";
import { edgeClient } from "./edge-client.ts";
import { hubLog } from "../../../shared/log.ts";
import { readState } from "../backup/state.ts";

/** Longest one edge's sync may take before it is reported failed (the lease expires on its own). */
export const EDGE_SYNC_TIMEOUT_MS = 120_000;

export interface SyncReport {
  hubId: string;
  root: string;
  snapshot: { kind: CurrentSnapshot["kind"]; recipients: number; overlayEntries: number; throughSeq: number };
  edges: (PushResult & { id: string })[];
}

/**
 * One EdgeSync round: bring the snapshot up to date with D1, then push it to every registered edge
 * in parallel, each under that edge's lease. A busy lease (another hub is syncing) is recorded and
 * retried at the next tick; one edge's failure never holds up the others.
 */
export async function syncAllEdges(env: Env): Promise<SyncReport | { hubId: string; root: null; edges: []; restoring?: true }> {
  // A restore under way (or failed): no snapshot of a half-restored directory reaches an edge.
  if ((await readState(env.DB, "restoring")) !== null) return { hubId: env.HUB_ID, root: null, edges: [], restoring: true };
  const edges = await listEdges(env.DB);
  // Nothing to sync: no snapshot is built either (a bulk import with no edge yet costs no builds).
  if (edges.length === 0) return { hubId: env.HUB_ID, root: null, edges: [] };
  const snapshot = await currentSnapshot(env);
  const blobs = hubBlobs(env);
  const results = await Promise.all(edges.map((edge) => syncOne(env, edge, snapshot, blobs)));
  const report: SyncReport = {
    hubId: env.HUB_ID,
    root: snapshot.root,
    snapshot: { kind: snapshot.kind, recipients: snapshot.recipients, overlayEntries: snapshot.overlayEntries, throughSeq: snapshot.throughSeq },
    edges: results,
  };
  hubLog(env.HUB_ID).info("sync", { root: report.root, snapshot: report.snapshot, edges: results.map((r) => ({ id: r.id, status: r.status })) });
  return report;
}

async function syncOne(env: Env, edge: EdgeRecord, snapshot: CurrentSnapshot, blobs: ReturnType<typeof hubBlobs>): Promise<PushResult & { id: string }> {
  let result: PushResult;
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>(
      (_, fail) => (timer = setTimeout(() => fail(new Error(`no answer within ${EDGE_SYNC_TIMEOUT_MS} ms`)), EDGE_SYNC_TIMEOUT_MS)),
    );
    try {
      result = await Promise.race([pushSnapshot(edgeClient(env, edge), env.HUB_ID, snapshot.root, snapshot.blobHashes, blobs), timeout]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  } catch (err) {
    result = { status: "failed", edgeId: edge.id, error: err instanceof Error ? err.message : String(err) };
  }
  switch (result.status) {
    case "committed":
      await recordAttempt(env.DB, edge.id, {
        success: true,
        root: result.root,
        version: result.version,
        written: { blobs: result.blobsWritten, bytes: result.bytesWritten },
        error: null,
      });
      break;
    case "unchanged":
      await recordAttempt(env.DB, edge.id, { success: true, root: result.root, version: result.version, error: null });
      break;
    case "busy":
      await recordAttempt(env.DB, edge.id, {
        success: false,
        error: `busy: lease held by ${result.holder}, retry next tick`,
        leaseHolder: result.holder,
        leaseExpiresAt: result.expiresAt,
      });
      break;
    case "failed":
      await recordAttempt(env.DB, edge.id, { success: false, error: result.error });
      break;
  }
  return { ...result, id: edge.id };
}
