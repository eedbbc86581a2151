import type { HubHealth } from "../../../shared/delivery/health.ts";
import { hubsFrom } from "../../../shared/delivery/router.ts";
import type { SpoolState } from "../../../shared/delivery/spool-api.ts";
import type { EdgeControlApi, EdgeLookup } from "../../../shared/directory/publish-api.ts";
import type { Policies } from "../../../shared/policy.ts";
import { withTimeout } from "../../../shared/timeout.ts";
import { type EdgeRecord, listEdges } from "../db/edges.ts";
import { getPolicy } from "../db/policies.ts";
import { currentSnapshot } from "../sync/build.ts";
import { EDGE_TIMEOUT_MS } from "./limits.ts";

/**
 * What the dashboard asks the edges, live, through the same edge client the admin API uses
 * (service binding or signed HTTPS): directory status, hub health, spool counts, recipient
 * lookups. An edge that fails or is slower than EDGE_TIMEOUT_MS is shown as not answering; one
 * edge never holds a page up.
 */
export type EdgeClientOf = (env: Env, edge: EdgeRecord) => EdgeControlApi;

export type Answer<T> = { ok: true; value: T } | { ok: false; error: string };

export async function askEdge<T>(clientOf: EdgeClientOf, env: Env, edge: EdgeRecord, call: (client: EdgeControlApi) => Promise<T>): Promise<Answer<T>> {
  try {
    return { ok: true, value: await withTimeout(call(clientOf(env, edge)), EDGE_TIMEOUT_MS, `edge ${edge.id} did not answer`) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** One edge's directory as `GET /api/v1/edges` reports it. */
export interface EdgeView {
  id: string;
  transport: string;
  reachable: boolean;
  version: number | null;
  root: string | null;
  converged: boolean;
  leaseHolder: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
}

/** Every registered edge's directory version against the hub's current root (the sync convergence). */
export async function edgeViews(env: Env, clientOf: EdgeClientOf): Promise<{ root: string; recipients: number; edges: EdgeView[] }> {
  const [snapshot, records] = await Promise.all([currentSnapshot(env), listEdges(env.DB)]);
  const edges = await Promise.all(
    records.map(async (e): Promise<EdgeView> => {
      const answer = await askEdge(clientOf, env, e, (client) => client.status());
      const status = answer.ok ? answer.value : null;
      const root = status?.current?.root ?? null;
      return {
        id: e.id,
        transport: e.transport === "binding" ? `binding ${e.binding ?? ""}` : `https ${e.url ?? ""}`,
        reachable: answer.ok,
        version: status?.current?.version ?? null,
        root,
        converged: root === snapshot.root,
        leaseHolder: status?.lease?.holder ?? null,
        lastSuccessAt: e.lastSuccessAt,
        lastError: answer.ok ? e.lastError : answer.error,
      };
    }),
  );
  return { root: snapshot.root, recipients: snapshot.recipients, edges };
}

/** One upstream hub as the edges see it. */
export interface HubView {
  id: string;
  transport: string;
  priority: number;
  health: "healthy" | "degraded" | "down" | "unknown";
  edges: { edge: string; state: HubHealth["state"]; failures: number; lastOkAt: number | null; lastFailureAt: number | null; lastError: string | null }[];
}

/**
 * The hubs of the `hubs` policy (or the default), each with every edge's breaker, as
 * `GET /api/v1/hubs` reports them: healthy when no edge has its breaker open, down when all do.
 */
export async function hubViews(env: Env, clientOf: EdgeClientOf): Promise<{ hubs: HubView[]; unreachable: { edge: string; error: string }[] }> {
  const [policy, records] = await Promise.all([getPolicy(env.DB, "hubs"), listEdges(env.DB)]);
  const reports = await Promise.all(records.map(async (e) => ({ edge: e.id, answer: await askEdge(clientOf, env, e, (client) => client.hubHealth()) })));
  const hubs = hubsFrom((policy?.body as Policies["hubs"] | undefined) ?? null).map((hub): HubView => {
    const views = reports.flatMap(({ edge, answer }) => {
      const view = answer.ok ? answer.value.hubs.find((h) => h.hubId === hub.id) : undefined;
      return view === undefined ? [] : [{ edge, view }];
    });
    const open = views.filter((v) => v.view.state === "open").length;
    return {
      id: hub.id,
      transport: hub.transport,
      priority: hub.priority,
      health: views.length === 0 ? "unknown" : open === 0 ? "healthy" : open === views.length ? "down" : "degraded",
      edges: views.map(({ edge, view }) => ({
        edge,
        state: view.state,
        failures: view.failures,
        lastOkAt: view.lastOkAt,
        lastFailureAt: view.lastFailureAt,
        lastError: view.recent.find((o) => !o.ok)?.error ?? null,
      })),
    };
  });
  const unreachable = reports.flatMap((r) => (r.answer.ok ? [] : [{ edge: r.edge, error: r.answer.error }]));
  return { hubs, unreachable };
}

/** One edge's spool at a glance; `counts` is null when the edge did not answer. */
export interface SpoolSummaryRow {
  edge: string;
  counts: Record<SpoolState, number> | null;
  oldestQueuedAt: string | null;
  error: string | null;
}

/** Every edge's spool counts per state and its oldest queued message. */
export async function spoolSummaries(env: Env, clientOf: EdgeClientOf): Promise<SpoolSummaryRow[]> {
  const records = await listEdges(env.DB);
  return Promise.all(
    records.map(async (e) => {
      const answer = await askEdge(clientOf, env, e, (client) => client.spoolList({ state: "queued", limit: 1 }));
      return answer.ok
        ? { edge: e.id, counts: answer.value.counts, oldestQueuedAt: answer.value.oldestQueuedAt, error: null }
        : { edge: e.id, counts: null, oldestQueuedAt: null, error: answer.error };
    }),
  );
}

/** What every edge would answer for each address now (its recipient filter), as `GET /api/v1/edges/{id}/recipients/{address}`. */
export async function lookups(env: Env, clientOf: EdgeClientOf, addresses: string[]): Promise<{ edge: string; address: string; answer: Answer<EdgeLookup> }[]> {
  const records = await listEdges(env.DB);
  const rows = records.flatMap((e) => addresses.map((address) => ({ e, address })));
  return Promise.all(
    rows.map(async ({ e, address }) => ({ edge: e.id, address, answer: await askEdge(clientOf, env, e, (client) => client.lookup(address)) })),
  );
}
