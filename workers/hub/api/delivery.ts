import { Hono } from "hono";
import { DELIVERY_ID } from "../../../shared/delivery.ts";
import type { HubHealth } from "../../../shared/delivery/health.ts";
import { hubsFrom } from "../../../shared/delivery/router.ts";
import { SPOOL_STATES, type SpoolActionResult, type SpoolState } from "../../../shared/delivery/spool-api.ts";
import type { Policies } from "../../../shared/policy.ts";
import { withTimeout } from "../../../shared/timeout.ts";
import type { HubEnv } from "../app.ts";
import { type EdgeRecord, getEdge, listEdges } from "../db/edges.ts";
import { getPolicy } from "../db/policies.ts";
import { edgeClient } from "../sync/edge-client.ts";
import { ApiError } from "./errors.ts";
import { pageLimit } from "./pagination.ts";

/** How long the operator views wait for each edge's live answer; an edge slower than this is reported unreachable. */
const EDGE_VIEW_TIMEOUT_MS = 5_000;

async function ask<T>(env: Env, edge: EdgeRecord, call: (client: ReturnType<typeof edgeClient>) => Promise<T>): Promise<{ value: T } | { error: string }> {
  try {
    return { value: await withTimeout(call(edgeClient(env, edge)), EDGE_VIEW_TIMEOUT_MS, `edge ${edge.id} did not answer`) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** Summarises how every edge sees one hub: healthy (all breakers closed), degraded (some open), down (all open), unknown (no edge reported it). */
function overall(views: HubHealth[]): "healthy" | "degraded" | "down" | "unknown" {
  if (views.length === 0) return "unknown";
  const open = views.filter((v) => v.state === "open").length;
  if (open === 0) return "healthy";
  return open === views.length ? "down" : "degraded";
}

export const hubs = new Hono<HubEnv>();

/**
 * GET /api/v1/hubs — the upstream hubs of the `hubs` policy (or the default), each with its
 * health as every edge sees it: breaker state, consecutive failures, last success and failure,
 * and the recent outcomes (deliveries and probes). Edges that do not answer are listed apart.
 */
hubs.get("/", async (c) => {
  const [policy, edges] = await Promise.all([getPolicy(c.env.DB, "hubs"), listEdges(c.env.DB)]);
  const configured = hubsFrom((policy?.body as Policies["hubs"] | undefined) ?? null);
  const reports = await Promise.all(edges.map(async (e) => ({ edge: e, answer: await ask(c.env, e, (client) => client.hubHealth()) })));
  const answered = reports.flatMap((r) => ("value" in r.answer ? [{ edge: r.edge.id, report: r.answer.value }] : []));
  const items = configured.map((hub) => {
    const views = answered.flatMap(({ edge, report }) => {
      const view = report.hubs.find((h) => h.hubId === hub.id);
      return view ? [{ edge, ...view }] : [];
    });
    return {
      ...hub,
      health: overall(views),
      edges: views.map((v) => ({
        edge: v.edge,
        state: v.state,
        failures: v.failures,
        openedAt: v.openedAt === null ? null : new Date(v.openedAt).toISOString(),
        lastOkAt: v.lastOkAt === null ? null : new Date(v.lastOkAt).toISOString(),
        lastFailureAt: v.lastFailureAt === null ? null : new Date(v.lastFailureAt).toISOString(),
        recent: v.recent.map((o) => ({ at: new Date(o.at).toISOString(), kind: o.kind, ok: o.ok, ms: o.ms, error: o.error ?? null })),
      })),
    };
  });
  const unreachable = reports.flatMap((r) => ("error" in r.answer ? [{ edge: r.edge.id, error: r.answer.error }] : []));
  return c.json({ source: policy === null ? "default" : "policy", items, unreachable });
});

export const queues = new Hono<HubEnv>();

async function edgeOr404(env: Env, id: string): Promise<EdgeRecord> {
  const edge = await getEdge(env.DB, id);
  if (edge === null) throw new ApiError(404, "not_found", `No edge named ${id}.`);
  return edge;
}

function deliveryId(raw: string): string {
  if (!DELIVERY_ID.test(raw)) throw new ApiError(400, "bad_request", "delivery id must be a UUID");
  return raw;
}

async function live<T>(env: Env, edge: EdgeRecord, call: (client: ReturnType<typeof edgeClient>) => Promise<T>): Promise<T> {
  const answer = await ask(env, edge, call);
  if ("error" in answer) throw new ApiError(502, "edge_unreachable", `Edge ${edge.id} did not answer: ${answer.error}`);
  return answer.value;
}

function acted(result: SpoolActionResult): { item: unknown } {
  if (result.ok) return { item: result.item };
  const status = result.error === "not_found" ? 404 : result.error === "conflict" ? 409 : 400;
  throw new ApiError(status, result.error === "invalid" ? "bad_request" : result.error, result.message);
}

/** GET /api/v1/queues — every edge's spool at a glance: counts per state and the age of the oldest queued message. */
queues.get("/", async (c) => {
  const edges = await listEdges(c.env.DB);
  const items = await Promise.all(
    edges.map(async (e) => {
      const answer = await ask(c.env, e, (client) => client.spoolList({ state: "queued", limit: 1 }));
      return "error" in answer
        ? { edge: e.id, reachable: false, error: answer.error, counts: null, oldestQueuedAt: null }
        : { edge: e.id, reachable: true, error: null, counts: answer.value.counts, oldestQueuedAt: answer.value.oldestQueuedAt };
    }),
  );
  return c.json({ items });
});

/** GET /api/v1/queues/{edge}?state=queued|suspended|dead|deleted&cursor=&limit= — one edge's spooled messages. */
queues.get("/:edge", async (c) => {
  const edge = await edgeOr404(c.env, c.req.param("edge"));
  const state = (c.req.query("state") ?? "queued") as SpoolState;
  if (!SPOOL_STATES.includes(state)) throw new ApiError(400, "bad_request", `state must be one of ${SPOOL_STATES.join(", ")}`);
  const cursor = c.req.query("cursor");
  const page = await live(c.env, edge, (client) => client.spoolList({ state, cursor, limit: pageLimit(c.req.query("limit")) }));
  return c.json(page);
});

/** GET /api/v1/queues/{edge}/{deliveryId} — one spooled message. */
queues.get("/:edge/:id", async (c) => {
  const edge = await edgeOr404(c.env, c.req.param("edge"));
  const id = deliveryId(c.req.param("id"));
  const item = await live(c.env, edge, (client) => client.spoolGet(id));
  if (item === null) throw new ApiError(404, "not_found", `No spooled message with delivery id ${id} on edge ${edge.id}.`);
  return c.json({ item });
});

/** POST /api/v1/queues/{edge}/{deliveryId}/retry | suspend | resume */
queues.post("/:edge/:id/:action{retry|suspend|resume}", async (c) => {
  const edge = await edgeOr404(c.env, c.req.param("edge"));
  const id = deliveryId(c.req.param("id"));
  const action = c.req.param("action") as "retry" | "suspend" | "resume";
  const result = await live(c.env, edge, (client) =>
    action === "retry" ? client.spoolRetry(id) : action === "suspend" ? client.spoolSuspend(id) : client.spoolResume(id),
  );
  return c.json(acted(result));
});

/** DELETE /api/v1/queues/{edge}/{deliveryId} with {"reason": "…"} — removes the message for good; the reason is kept. */
queues.delete("/:edge/:id", async (c) => {
  const edge = await edgeOr404(c.env, c.req.param("edge"));
  const id = deliveryId(c.req.param("id"));
  let body: { reason?: unknown };
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError(400, "bad_request", 'Body must be JSON: {"reason": "why this message is deleted"}.');
  }
  if (typeof body.reason !== "string" || body.reason.trim() === "" || body.reason.length > 500) {
    throw new ApiError(400, "bad_request", "reason (1–500 characters) is required");
  }
  const reason = body.reason.trim();
  return c.json(acted(await live(c.env, edge, (client) => client.spoolDelete(id, reason))));
});
