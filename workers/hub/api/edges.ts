import { z } from "@hono/zod-openapi";
import type { EdgeStatus } from "../../../shared/directory/publish-api.ts";
import { withTimeout } from "../../../shared/timeout.ts";
import { deleteEdge, type EdgeRecord, getEdge, listEdges, putEdge } from "../db/edges.ts";
import { currentSnapshot } from "../sync/build.ts";
import { edgeBindingNames, edgeClient, edgeUrlProblem } from "../sync/edge-client.ts";
import { requestSync } from "../sync/trigger.ts";
import { noteChange } from "./audit.ts";
import { ApiError } from "./errors.ts";
import { documentedJson, ERRORS, failure, json, NO_CONTENT, readJson, route, router } from "./openapi.ts";
import { hashAddress, hubLog } from "../../../shared/log.ts";

export const edges = router();

/** How long the verification view waits for each edge's live answer. */
const EDGE_STATUS_TIMEOUT_MS = 5_000;

/** Largest edge registration body (bytes): a transport and a binding name or URL. */
const MAX_EDGE_BODY_BYTES = 16 * 1024;

const EDGE_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;

const EdgeParams = z.object({
  id: z
    .string()
    .regex(EDGE_ID, "edge id: 1–63 lower-case letters, digits, '.', '_' or '-'")
    .openapi({ param: { name: "id", in: "path" }, example: "edge-local", description: "The edge's id at this hub." }),
});

const Edge = z
  .object({
    id: z.string(),
    transport: z.enum(["binding", "https"]),
    binding: z.string().nullable(),
    url: z.string().nullable(),
    createdAt: z.string(),
    lastAttemptAt: z.string().nullable(),
    lastSuccessAt: z.string().nullable(),
    lastRoot: z.string().nullable(),
    lastVersion: z.number().int().nullable(),
    lastError: z.string().nullable(),
    lastBlobsWritten: z.number().int().nullable(),
    lastBytesWritten: z.number().int().nullable(),
    leaseHolder: z.string().nullable(),
    leaseExpiresAt: z.string().nullable(),
  })
  .openapi("Edge");

const EdgeView = Edge.pick({
  id: true,
  transport: true,
  binding: true,
  url: true,
  leaseHolder: true,
  leaseExpiresAt: true,
  lastAttemptAt: true,
  lastSuccessAt: true,
  lastError: true,
  lastBlobsWritten: true,
  lastBytesWritten: true,
})
  .extend({
    reachable: z.boolean(),
    reportedEdgeId: z.string().nullable(),
    version: z.number().int().nullable(),
    root: z.string().nullable(),
    committedAt: z.string().nullable(),
    converged: z.boolean().openapi({ description: "The edge holds the hub's current root hash." }),
  })
  .openapi("EdgeView", { description: "An edge as it answers now (lease, version, root), with the hub's record of its last sync." });

const EdgeList = z
  .object({ hubId: z.string(), root: z.string(), recipients: z.number().int(), items: z.array(EdgeView) })
  .openapi("EdgeList", { description: "Every registered edge, asked live, against the hub's current snapshot." });

const EdgeLookup = z
  .object({
    edgeId: z.string(),
    root: z.string().nullable(),
    version: z.number().int().nullable(),
    domainAccepted: z.boolean(),
    recipient: z.object({ rejectInternet: z.boolean(), sclOverride: z.number().int().nullable() }).nullable(),
    smtp: z.string().openapi({ description: "The SMTP reply the edge's recipient filter would give.", example: "250 2.1.5 OK" }),
    accepted: z.boolean(),
  })
  .openapi("EdgeLookup");

const EdgeBody = z
  .discriminatedUnion(
    "transport",
    [
      z.strictObject({
        transport: z.literal("binding"),
        binding: z.string().openapi({ description: "A service binding of this hub (EDGE or EDGE_*).", example: "EDGE" }),
      }),
      z.strictObject({
        transport: z.literal("https"),
        url: z.string().openapi({ description: "The edge's HTTPS origin.", example: "https://edge.example.com" }),
      }),
    ],
    { error: 'transport must be "binding" or "https"' },
  )
  .openapi({ example: { transport: "binding", binding: "EDGE" } });

async function liveStatus(env: Env, edge: EdgeRecord): Promise<{ status: EdgeStatus | null; error: string | null }> {
  try {
    return { status: await withTimeout(edgeClient(env, edge).status(), EDGE_STATUS_TIMEOUT_MS, "edge did not answer"), error: null };
  } catch (err) {
    return { status: null, error: err instanceof Error ? err.message : String(err) };
  }
}

edges.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: ["Edges and sync"],
    summary: "List edges, asked live",
    description:
      "Every registered edge, asked live (Exchange's Test-EdgeSynchronization): its version and root hash, lease holder, last successful sync and last error, and whether it has converged on the hub's current root hash.",
    responses: { 200: json(EdgeList, "Every edge"), ...ERRORS },
  }),
  async (c) => {
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
    return c.json({ hubId: c.env.HUB_ID, root: snapshot.root, recipients: snapshot.recipients, items }, 200);
  },
);

edges.openapi(
  route("admin", {
    method: "put",
    path: "/{id}",
    tags: ["Edges and sync"],
    summary: "Register an edge",
    description:
      'Registers an edge, or changes how it is reached: `{"transport":"binding","binding":"EDGE"}` (a service binding of this hub) or `{"transport":"https","url":"https://edge.example.com"}` (signed with SYNC_SIGNING_KEY).',
    request: { params: EdgeParams, body: documentedJson(edges, "EdgeRegistration", EdgeBody, "How the hub reaches the edge") },
    responses: { 200: json(Edge, "The edge, changed"), 201: json(Edge, "The edge, registered"), ...ERRORS, 413: failure("The body is too large") },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = await readJson(c, EdgeBody, { maxBytes: MAX_EDGE_BODY_BYTES, notJson: "body must be JSON" });
    let created: boolean;
    if (body.transport === "binding") {
      const bindings = edgeBindingNames(c.env);
      if (!bindings.includes(body.binding)) {
        throw new ApiError(400, "bad_request", `binding must name one of this hub's edge service bindings: ${bindings.join(", ") || "none configured"}`);
      }
      created = await putEdge(c.env.DB, { id, transport: "binding", binding: body.binding, url: null });
    } else {
      const problem = edgeUrlProblem(body.url);
      if (problem !== null) throw new ApiError(400, "bad_request", problem);
      created = await putEdge(c.env.DB, { id, transport: "https", binding: null, url: new URL(body.url).origin });
    }
    requestSync(c.env, c.executionCtx);
    noteChange(c, `${created ? "registered" : "changed"} edge ${id} (${body.transport === "binding" ? `binding ${body.binding}` : "https"})`, id);
    return c.json((await getEdge(c.env.DB, id))!, created ? 201 : 200);
  },
);

edges.openapi(
  route("admin", {
    method: "delete",
    path: "/{id}",
    tags: ["Edges and sync"],
    summary: "Stop syncing an edge",
    description: "The edge keeps the data it has.",
    request: { params: EdgeParams },
    responses: { 204: NO_CONTENT, ...ERRORS },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    if (!(await deleteEdge(c.env.DB, id))) throw new ApiError(404, "not_found", "No such edge.");
    noteChange(c, `removed edge ${id}`, id);
    return c.body(null, 204);
  },
);

edges.openapi(
  route("read-only", {
    method: "get",
    path: "/{id}/recipients/{address}",
    tags: ["Edges and sync"],
    summary: "Ask an edge about an address",
    description: "Would that edge accept mail for this address right now, and with what reply.",
    request: {
      params: EdgeParams.extend({
        address: z.string().openapi({ param: { name: "address", in: "path" }, example: "alice@example.com", description: "Any address." }),
      }),
    },
    responses: { 200: json(EdgeLookup, "The edge's answer"), ...ERRORS, 502: failure("The edge did not answer") },
  }),
  async (c) => {
    const { id, address } = c.req.valid("param");
    const edge = await getEdge(c.env.DB, id);
    if (edge === null) throw new ApiError(404, "not_found", "No such edge.");
    try {
      return c.json(await withTimeout(edgeClient(c.env, edge).lookup(address), EDGE_STATUS_TIMEOUT_MS, "edge did not answer"), 200);
    } catch (err) {
      hubLog(c.env.HUB_ID).error("edge_lookup_failed", { edge: edge.id, addressHash: await hashAddress(c.env.DIRECTORY_KEY, address), error: String(err) });
      throw new ApiError(502, "edge_unavailable", `Edge ${edge.id} could not answer: ${err instanceof Error ? err.message : String(err)}`);
    }
  },
);
