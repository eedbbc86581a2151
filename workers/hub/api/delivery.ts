import { z } from "@hono/zod-openapi";
import { DELIVERY_ID } from "../../../shared/delivery.ts";
import type { HubHealth } from "../../../shared/delivery/health.ts";
import { hubsFrom } from "../../../shared/delivery/router.ts";
import { SPOOL_STATES, type SpoolActionResult, type SpoolItem } from "../../../shared/delivery/spool-api.ts";
import type { Policies } from "../../../shared/policy.ts";
import { withTimeout } from "../../../shared/timeout.ts";
import { type EdgeRecord, getEdge, listEdges } from "../db/edges.ts";
import { getPolicy } from "../db/policies.ts";
import { edgeClient } from "../sync/edge-client.ts";
import { noteChange } from "./audit.ts";
import { ApiError } from "./errors.ts";
import { documentedJson, ERRORS, failure, json, readJson, route, router } from "./openapi.ts";
import { Limit } from "./pagination.ts";

/** How long the operator views wait for each edge's live answer; an edge slower than this is reported unreachable. */
const EDGE_VIEW_TIMEOUT_MS = 5_000;

/** Largest body of a spool deletion (bytes): a reason of up to 500 characters. */
const MAX_DELETE_BODY_BYTES = 16 * 1024;

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

const HubView = z
  .object({
    id: z.string(),
    transport: z.enum(["binding", "https", "forward"]),
    binding: z.string().optional(),
    url: z.string().optional(),
    address: z.string().optional(),
    priority: z.number().int(),
    weight: z.number().int(),
    maxConcurrency: z.number().int(),
    health: z.enum(["healthy", "degraded", "down", "unknown"]),
    edges: z.array(
      z.object({
        edge: z.string(),
        state: z.enum(["closed", "open", "half-open"]),
        failures: z.number().int(),
        openedAt: z.string().nullable(),
        lastOkAt: z.string().nullable(),
        lastFailureAt: z.string().nullable(),
        recent: z.array(z.object({ at: z.string(), kind: z.enum(["delivery", "probe"]), ok: z.boolean(), ms: z.number(), error: z.string().nullable() })),
      }),
    ),
  })
  .openapi("HubView");

const HubList = z
  .object({
    source: z.enum(["policy", "default"]).openapi({ description: "Whether the hub list comes from the `hubs` policy or the default." }),
    items: z.array(HubView),
    unreachable: z.array(z.object({ edge: z.string(), error: z.string() })),
  })
  .openapi("HubList");

export const hubs = router();

hubs.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: ["Delivery"],
    summary: "Upstream hubs and their health",
    description:
      "The upstream hubs of the `hubs` policy (or the default), each with its health as every edge sees it: breaker state, consecutive failures, last success and failure, and the recent outcomes. Edges that do not answer are listed apart.",
    responses: { 200: json(HubList, "Every hub"), ...ERRORS },
  }),
  async (c) => {
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
    return c.json({ source: policy === null ? ("default" as const) : ("policy" as const), items, unreachable }, 200);
  },
);

const SpoolState = z.enum(SPOOL_STATES as [SpoolItem["state"], ...SpoolItem["state"][]]);

const SpoolItemSchema = z
  .object({
    deliveryId: z.string(),
    edgeId: z.string(),
    state: SpoolState,
    envelope: z.object({ from: z.string(), to: z.array(z.string()) }),
    messageId: z.string().nullable(),
    subject: z.string().nullable(),
    size: z.number().int(),
    receivedAt: z.string(),
    spooledAt: z.string(),
    expiresAt: z.string(),
    attempts: z.number().int(),
    nextAttemptAt: z.string().nullable(),
    lastError: z.string().nullable(),
    lastHub: z.string().nullable(),
    delayNotifiedAt: z.string().nullable(),
    reason: z.string().nullable().openapi({ description: "Why it is dead or deleted." }),
    endedAt: z.string().nullable(),
  })
  .openapi("SpoolItem");

const Counts = z.object({ queued: z.number().int(), suspended: z.number().int(), dead: z.number().int(), deleted: z.number().int() });

const SpoolPage = z
  .object({ items: z.array(SpoolItemSchema), nextCursor: z.string().nullable(), counts: Counts, oldestQueuedAt: z.string().nullable() })
  .openapi("SpoolPage");

const QueueSummary = z
  .object({
    items: z.array(
      z.object({ edge: z.string(), reachable: z.boolean(), error: z.string().nullable(), counts: Counts.nullable(), oldestQueuedAt: z.string().nullable() }),
    ),
  })
  .openapi("QueueSummary");

const SpoolItemAnswer = z.object({ item: SpoolItemSchema }).openapi("SpoolItemAnswer");

const EdgeParam = z.string().openapi({ param: { name: "edge", in: "path" }, example: "edge-local", description: "The edge's id at this hub." });
const DeliveryIdParam = z
  .string()
  .regex(DELIVERY_ID, "delivery id must be a UUID")
  .openapi({ param: { name: "deliveryId", in: "path" }, example: "9690b1c2-5d0e-4f3a-8a63-2f1f0b7e4c11", description: "The message's delivery id." });
const QueueParams = z.object({ edge: EdgeParam });
const SpooledParams = z.object({ edge: EdgeParam, deliveryId: DeliveryIdParam });

const DeleteBody = z
  .object({
    reason: z.string().trim().min(1, "reason (1–500 characters) is required").max(500, "reason (1–500 characters) is required"),
  })
  .openapi({ example: { reason: "duplicate of a message already delivered" } });

export const queues = router();

async function edgeOr404(env: Env, id: string): Promise<EdgeRecord> {
  const edge = await getEdge(env.DB, id);
  if (edge === null) throw new ApiError(404, "not_found", `No edge named ${id}.`);
  return edge;
}

async function live<T>(env: Env, edge: EdgeRecord, call: (client: ReturnType<typeof edgeClient>) => Promise<T>): Promise<T> {
  const answer = await ask(env, edge, call);
  if ("error" in answer) throw new ApiError(502, "edge_unreachable", `Edge ${edge.id} did not answer: ${answer.error}`);
  return answer.value;
}

function acted(result: SpoolActionResult): { item: SpoolItem } {
  if (result.ok) return { item: result.item };
  const status = result.error === "not_found" ? 404 : result.error === "conflict" ? 409 : 400;
  throw new ApiError(status, result.error === "invalid" ? "bad_request" : result.error, result.message);
}

const UNREACHABLE = { 502: failure("The edge did not answer") };

queues.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: ["Delivery"],
    summary: "Every edge's spool at a glance",
    description: "Counts per state (`queued`, `suspended`, `dead`, `deleted`) and the oldest queued message, per edge.",
    responses: { 200: json(QueueSummary, "Every edge's spool"), ...ERRORS },
  }),
  async (c) => {
    const edges = await listEdges(c.env.DB);
    const items = await Promise.all(
      edges.map(async (e) => {
        const answer = await ask(c.env, e, (client) => client.spoolList({ state: "queued", limit: 1 }));
        return "error" in answer
          ? { edge: e.id, reachable: false, error: answer.error, counts: null, oldestQueuedAt: null }
          : { edge: e.id, reachable: true, error: null, counts: answer.value.counts, oldestQueuedAt: answer.value.oldestQueuedAt };
      }),
    );
    return c.json({ items }, 200);
  },
);

queues.openapi(
  route("read-only", {
    method: "get",
    path: "/{edge}",
    tags: ["Delivery"],
    summary: "One edge's spooled messages",
    description: "Envelope, subject, size, attempts, next attempt and last error of each spooled message in one state.",
    request: {
      params: QueueParams,
      query: z.object({
        state: SpoolState.default("queued").openapi({ description: `One of ${SPOOL_STATES.join(", ")}.` }),
        cursor: z.string().optional().openapi({ description: "The `nextCursor` of the previous page." }),
        limit: Limit,
      }),
    },
    responses: { 200: json(SpoolPage, "A page of spooled messages"), ...ERRORS, ...UNREACHABLE },
  }),
  async (c) => {
    const edge = await edgeOr404(c.env, c.req.valid("param").edge);
    const { state, cursor, limit } = c.req.valid("query");
    return c.json(await live(c.env, edge, (client) => client.spoolList({ state, cursor, limit })), 200);
  },
);

queues.openapi(
  route("read-only", {
    method: "get",
    path: "/{edge}/{deliveryId}",
    tags: ["Delivery"],
    summary: "One spooled message",
    request: { params: SpooledParams },
    responses: { 200: json(SpoolItemAnswer, "The spooled message"), ...ERRORS, ...UNREACHABLE },
  }),
  async (c) => {
    const { edge: edgeId, deliveryId } = c.req.valid("param");
    const edge = await edgeOr404(c.env, edgeId);
    const item = await live(c.env, edge, (client) => client.spoolGet(deliveryId));
    if (item === null) throw new ApiError(404, "not_found", `No spooled message with delivery id ${deliveryId} on edge ${edge.id}.`);
    return c.json({ item }, 200);
  },
);

const ACTIONS = {
  retry: { summary: "Retry a spooled message now", description: "A dead message comes back with a fresh expiry. 409 when its state does not allow it." },
  suspend: { summary: "Hold a spooled message", description: "No attempts until it is resumed. 409 when its state does not allow it." },
  resume: { summary: "Release a held message", description: "Attempts start again. 409 unless it is suspended." },
} as const;

for (const action of ["retry", "suspend", "resume"] as const) {
  queues.openapi(
    route("operator", {
      method: "post",
      path: `/{edge}/{deliveryId}/${action}`,
      tags: ["Delivery"],
      ...ACTIONS[action],
      request: { params: SpooledParams },
      responses: {
        200: json(SpoolItemAnswer, "The message after the action"),
        ...ERRORS,
        409: failure("The message's state does not allow this"),
        ...UNREACHABLE,
      },
    }),
    async (c) => {
      const { edge: edgeId, deliveryId } = c.req.valid("param");
      const edge = await edgeOr404(c.env, edgeId);
      const result = await live(c.env, edge, (client) =>
        action === "retry" ? client.spoolRetry(deliveryId) : action === "suspend" ? client.spoolSuspend(deliveryId) : client.spoolResume(deliveryId),
      );
      const answer = acted(result);
      noteChange(c, `${action} spooled message ${deliveryId} on edge ${edge.id}`, deliveryId);
      return c.json(answer, 200);
    },
  );
}

queues.openapi(
  route("operator", {
    method: "delete",
    path: "/{edge}/{deliveryId}",
    tags: ["Delivery"],
    summary: "Delete a spooled message for good",
    description: "Removes the message; the reason (required) is kept with a tombstone.",
    request: { params: SpooledParams, body: documentedJson(queues, "SpoolDeletion", DeleteBody, "Why the message is deleted") },
    responses: { 200: json(SpoolItemAnswer, "The tombstone"), ...ERRORS, ...UNREACHABLE },
  }),
  async (c) => {
    const { edge: edgeId, deliveryId } = c.req.valid("param");
    const edge = await edgeOr404(c.env, edgeId);
    const { reason } = await readJson(c, DeleteBody, {
      maxBytes: MAX_DELETE_BODY_BYTES,
      notJson: 'Body must be JSON: {"reason": "why this message is deleted"}.',
    });
    const answer = acted(await live(c.env, edge, (client) => client.spoolDelete(deliveryId, reason)));
    noteChange(c, `deleted spooled message ${deliveryId} on edge ${edge.id}: ${reason}`, deliveryId);
    return c.json(answer, 200);
  },
);
