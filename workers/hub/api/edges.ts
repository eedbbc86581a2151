import { Hono } from "hono";
import type { EdgeStatus } from "../../../shared/directory/publish-api.ts";
import { withTimeout } from "../../../shared/timeout.ts";
import type { HubEnv } from "../app.ts";
import { deleteEdge, type EdgeRecord, getEdge, listEdges, putEdge } from "../db/edges.ts";
import { currentSnapshot } from "../sync/build.ts";
import { edgeBindingNames, edgeClient, edgeUrlProblem } from "../sync/edge-client.ts";
import { requestSync } from "../sync/trigger.ts";
import { ApiError } from "./errors.ts";

export const edges = new Hono<HubEnv>();

/** How long the verification view waits for each edge's live answer. */
const EDGE_STATUS_TIMEOUT_MS = 5_000;

const EDGE_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function edgeId(raw: string): string {
  if (!EDGE_ID.test(raw)) throw new ApiError(400, "bad_request", "edge id: 1–63 lower-case letters, digits, '.', '_' or '-'");
  return raw;
}

async function liveStatus(env: Env, edge: EdgeRecord): Promise<{ status: EdgeStatus | null; error: string | null }> {
  try {
    return { status: await withTimeout(edgeClient(env, edge).status(), EDGE_STATUS_TIMEOUT_MS, "edge did not answer"), error: null };
  } catch (err) {
    return { status: null, error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * GET /api/v1/edges — every registered edge, asked live (Exchange's Test-EdgeSynchronization):
 * its version and root hash, lease holder, last successful sync and last error, and whether it
 * has converged on the hub's current root hash.
 */
edges.get("/", async (c) => {
  const [snapshot, records] = await Promise.all([currentSnapshot(c.env), listEdges(c.env.DB)]);
  const items = await Promise.all(
    records.map(async (e) => {
      const live = await liveStatus(c.env, e);
      const root = live.status?.current?.root ?? null;
      return {
        id: e.id,
        transport: e.transport,
        binding: e.binding,
        url: e.url,
        reachable: live.status !== null,
        reportedEdgeId: live.status?.edgeId ?? null,
        version: live.status?.current?.version ?? null,
        root,
        committedAt: live.status?.current?.committedAt ?? null,
        leaseHolder: live.status?.lease?.holder ?? null,
        leaseExpiresAt: live.status?.lease ? new Date(live.status.lease.expiresAt).toISOString() : null,
        lastAttemptAt: e.lastAttemptAt,
        lastSuccessAt: e.lastSuccessAt,
        lastError: live.error ?? e.lastError,
        lastBlobsWritten: e.lastBlobsWritten,
        lastBytesWritten: e.lastBytesWritten,
        converged: root === snapshot.root,
      };
    }),
  );
  return c.json({ hubId: c.env.HUB_ID, root: snapshot.root, recipients: snapshot.recipients, items });
});

/**
 * PUT /api/v1/edges/{id} — register an edge, or change how it is reached:
 * `{"transport":"binding","binding":"EDGE"}` (a service binding of this hub) or
 * `{"transport":"https","url":"https://edge.example.com"}` (signed with SYNC_SIGNING_KEY).
 */
edges.put("/:id", async (c) => {
  const id = edgeId(c.req.param("id"));
  let body: { transport?: unknown; binding?: unknown; url?: unknown };
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError(400, "bad_request", "body must be JSON");
  }
  const bindings = edgeBindingNames(c.env);
  let created: boolean;
  if (body.transport === "binding") {
    if (typeof body.binding !== "string" || !bindings.includes(body.binding)) {
      throw new ApiError(400, "bad_request", `binding must name one of this hub's edge service bindings: ${bindings.join(", ") || "none configured"}`);
    }
    created = await putEdge(c.env.DB, { id, transport: "binding", binding: body.binding, url: null });
  } else if (body.transport === "https") {
    const problem = typeof body.url === "string" ? edgeUrlProblem(body.url) : "url is required";
    if (problem !== null) throw new ApiError(400, "bad_request", problem);
    created = await putEdge(c.env.DB, { id, transport: "https", binding: null, url: new URL(body.url as string).origin });
  } else {
    throw new ApiError(400, "bad_request", 'transport must be "binding" or "https"');
  }
  requestSync(c.env, c.executionCtx);
  return c.json(await getEdge(c.env.DB, id), created ? 201 : 200);
});

/** DELETE /api/v1/edges/{id} — stop syncing an edge (its data stays as it is). */
edges.delete("/:id", async (c) => {
  if (!(await deleteEdge(c.env.DB, edgeId(c.req.param("id"))))) throw new ApiError(404, "not_found", "No such edge.");
  return c.body(null, 204);
});

/** GET /api/v1/edges/{id}/recipients/{address} — would that edge accept mail for this address right now? */
edges.get("/:id/recipients/:address", async (c) => {
  const edge = await getEdge(c.env.DB, edgeId(c.req.param("id")));
  if (edge === null) throw new ApiError(404, "not_found", "No such edge.");
  try {
    return c.json(await withTimeout(edgeClient(c.env, edge).lookup(c.req.param("address")), EDGE_STATUS_TIMEOUT_MS, "edge did not answer"));
  } catch (err) {
    throw new ApiError(502, "edge_unavailable", `Edge ${edge.id} could not answer: ${err instanceof Error ? err.message : String(err)}`);
  }
});
