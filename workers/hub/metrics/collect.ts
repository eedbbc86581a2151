import type { BreakerState } from "../../../shared/delivery/breaker.ts";
import type { HubHealthReport } from "../../../shared/delivery/health.ts";
import { SPOOL_STATES, type SpoolPage } from "../../../shared/delivery/spool-api.ts";
import type { EdgeStatus } from "../../../shared/directory/publish-api.ts";
import { type StandbyStatus, standbyStatus } from "../backup/status.ts";
import { askEdge, type Answer, type EdgeClientOf } from "../dashboard/edges.ts";
import { type EdgeRecord, listEdges } from "../db/edges.ts";
import { latestSnapshot } from "../db/snapshots.ts";
import { Exposition, type Sample } from "./exposition.ts";

/**
 * What `GET /metrics` reports, gathered from what the hub already has: message tracking in D1
 * (aggregated over a recent window, a few GROUP BY queries), the edges table (sync), and each
 * edge's live answers (directory status, spool, hub health) — asked in parallel, each bounded by
 * the dashboard's EDGE_TIMEOUT_MS, so an edge that does not answer shows as
 * `portcullis_edge_up 0` and never fails or stalls the scrape.
 */

/**
 * The tracking window when the scrape does not name one: five minutes. Tracking counts are
 * aggregated from stored events, so each scrape reads every event of its window; a short window
 * keeps that small (at Microsoft IT's ~185 msg/s, about 55,000 decisions). Set `window` to the
 * scrape interval and each event is counted by exactly one scrape.
 */
export const METRICS_DEFAULT_WINDOW_SECONDS = 300;
/** Shortest window a scrape may ask for (a minute: the finest the edges' minute cron shows anyway). */
export const METRICS_MIN_WINDOW_SECONDS = 60;
/** Longest window a scrape may ask for: a day. Longer would have one scrape read millions of rows. */
export const METRICS_MAX_WINDOW_SECONDS = 86_400;
/**
 * Series one tracking family may have. Label values come from the edges' events (edge ids, agent
 * names): bounded in practice, capped here so a misbehaving edge cannot blow up a scrape or the
 * Prometheus server's memory.
 */
export const METRICS_MAX_SERIES = 1_000;

/** SCL upper bounds of the histogram: -1 (a safe sender) and every level 0–9. */
const SCL_BOUNDS = [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const BREAKER_STATES: BreakerState[] = ["closed", "half-open", "open"];

interface FlowRow {
  kind: "decision" | "delivery" | "spool";
  edge: string;
  action: string | null;
  outcome: string;
  n: number;
}

interface AgentRow {
  agent: string | null;
  result: string | null;
  n: number;
}

/** One edge: the hub's record of its syncs, and its live answers (or why there are none). */
interface EdgeFacts {
  record: EdgeRecord;
  status: Answer<EdgeStatus>;
  spool: Answer<SpoolPage>;
  health: Answer<HubHealthReport>;
}

async function tracking(db: D1Database, since: string): Promise<{ flow: FlowRow[]; agents: AgentRow[]; scl: { value: number; count: number }[] }> {
  const [flow, agents, scl] = await db.batch<FlowRow | AgentRow | { scl: number; n: number }>([
    db
      .prepare(
        `SELECT kind, edge_id AS edge, action, outcome, COUNT(*) AS n FROM tracking_events
         WHERE kind IN ('decision', 'delivery', 'spool') AND at >= ?
         GROUP BY kind, edge_id, action, outcome LIMIT ?`,
      )
      .bind(since, METRICS_MAX_SERIES * 2),
    db
      .prepare(
        `SELECT json_extract(a.value, '$.agent') AS agent, json_extract(a.value, '$.result') AS result, COUNT(*) AS n
         FROM tracking_events AS t, json_each(t.agents) AS a
         WHERE t.kind = 'decision' AND t.at >= ?
         GROUP BY agent, result LIMIT ?`,
      )
      .bind(since, METRICS_MAX_SERIES),
    db.prepare("SELECT scl, COUNT(*) AS n FROM tracking_events WHERE kind = 'decision' AND at >= ? AND scl IS NOT NULL GROUP BY scl").bind(since),
  ]);
  return {
    flow: flow!.results as FlowRow[],
    agents: agents!.results as AgentRow[],
    scl: (scl!.results as { scl: number; n: number }[]).map((r) => ({ value: r.scl, count: r.n })),
  };
}

const seconds = (ms: number): number => Math.round(ms) / 1000;

/** The three live questions to one edge, in parallel; each answer is a value or why there is none. */
async function askAll(env: Env, clientOf: EdgeClientOf, record: EdgeRecord): Promise<EdgeFacts> {
  const [status, spool, health] = await Promise.all([
    askEdge(clientOf, env, record, (c) => c.status()),
    askEdge(clientOf, env, record, (c) => c.spoolList({ state: "queued", limit: 1 })),
    askEdge(clientOf, env, record, (c) => c.hubHealth()),
  ]);
  return { record, status, spool, health };
}

/**
 * The whole exposition document. `clientOf` reaches an edge (the admin API's edge client;
 * tests may pass another).
 */
export async function collectMetrics(env: Env, clientOf: EdgeClientOf, windowSeconds: number, now = Date.now()): Promise<string> {
  const since = new Date(now - windowSeconds * 1000).toISOString();
  const [counts, records, snapshot, standby] = await Promise.all([tracking(env.DB, since), listEdges(env.DB), latestSnapshot(env.DB), standbyStatus(env)]);
  const edges = await Promise.all(records.map((record) => askAll(env, clientOf, record)));

  const doc = new Exposition();
  doc.gauge("portcullis_metrics_window_seconds", "The window the message counts below cover (the scrape's `window` parameter).", [{ value: windowSeconds }]);
  trackingFamilies(doc, counts);
  edgeFamilies(doc, edges, snapshot, now);
  standbyFamilies(doc, standby);
  return doc.text();
}

/** This hub's role and, on a standby, whether it sees its primary and how old the directory it follows is. */
function standbyFamilies(doc: Exposition, status: StandbyStatus): void {
  doc.gauge("portcullis_hub_info", "This hub: its id and role (primary or standby); always 1.", [
    { labels: { hub: status.hubId, role: status.role }, value: 1 },
  ]);
  const onStandby = (sample: Sample | null): Sample[] => (status.role === "standby" && sample !== null ? [sample] : []);
  doc.gauge(
    "portcullis_standby_primary_up",
    "Standby only: 1 when its last round reached the primary hub, else 0 (while 0 the standby syncs the edges itself).",
    onStandby(status.primary === null ? null : { value: status.primary.up ? 1 : 0 }),
  );
  doc.gauge(
    "portcullis_standby_applied_export_timestamp_seconds",
    "Standby only: when the primary wrote the export this standby last applied (Unix time) — how old the directory it would sync is.",
    onStandby(status.applied === null ? null : { value: seconds(Date.parse(status.applied.createdAt)) }),
  );
  doc.gauge(
    "portcullis_standby_messages",
    "Messages a standby took while its primary was down, by state: held (not yet handed back), handed_back, released (after a promotion).",
    [
      { labels: { state: "held" }, value: status.held },
      { labels: { state: "handed_back" }, value: status.handedBack },
      { labels: { state: "released" }, value: status.released },
    ],
  );
}

function trackingFamilies(doc: Exposition, counts: Awaited<ReturnType<typeof tracking>>): void {
  const decisions = counts.flow.filter((r) => r.kind === "decision").slice(0, METRICS_MAX_SERIES);
  const rounds = counts.flow.filter((r) => r.kind !== "decision").slice(0, METRICS_MAX_SERIES);
  doc.gauge(
    "portcullis_messages",
    "Messages decided at the edges within the window, by edge, hygiene verdict (accept, reject, quarantine, tempfail) and outcome at the SMTP boundary (accepted, quarantined, rejected, tempfailed, spooled).",
    decisions.map((r) => ({ labels: { edge: r.edge, verdict: r.action ?? "", outcome: r.outcome }, value: r.n })),
  );
  doc.gauge(
    "portcullis_delivery_rounds",
    "Delivery rounds within the window, by edge, kind (delivery: in the email handler; spool: a retry from the spool) and outcome (delivered, failed, refused, retry, dead).",
    rounds.map((r) => ({ labels: { edge: r.edge, kind: r.kind, outcome: r.outcome }, value: r.n })),
  );
  doc.gauge(
    "portcullis_agent_results",
    "Hygiene agent results of the messages decided within the window, by agent and result (pass, fail, skip).",
    counts.agents.map((r) => ({ labels: { agent: r.agent ?? "", result: r.result ?? "" }, value: r.n })),
  );
  doc.histogram("portcullis_scl", "Spam confidence level (SCL; -1 for safe senders, 0–9) of the messages decided within the window.", SCL_BOUNDS, counts.scl);
}

function answered<T>(edges: EdgeFacts[], pick: (e: EdgeFacts) => Answer<T>, sample: (e: EdgeFacts, value: T) => Sample[]): Sample[] {
  return edges.flatMap((e) => {
    const answer = pick(e);
    return answer.ok ? sample(e, answer.value) : [];
  });
}

function edgeFamilies(doc: Exposition, edges: EdgeFacts[], snapshot: { root: string; recipients: number } | null, now: number): void {
  const edge = (e: EdgeFacts) => ({ edge: e.record.id });
  doc.gauge(
    "portcullis_edge_up",
    "1 when the edge answered the hub within the timeout (directory status, spool and hub health), else 0.",
    edges.map((e) => ({ labels: edge(e), value: e.status.ok && e.spool.ok && e.health.ok ? 1 : 0 })),
  );
  doc.gauge("portcullis_directory_recipients", "Recipients in the hub's latest directory snapshot.", snapshot === null ? [] : [{ value: snapshot.recipients }]);
  const synced = edges.filter((e) => e.record.lastSuccessAt !== null);
  doc.gauge(
    "portcullis_edge_sync_last_success_timestamp_seconds",
    "When the hub last synced the edge successfully (Unix time).",
    synced.map((e) => ({ labels: edge(e), value: seconds(Date.parse(e.record.lastSuccessAt!)) })),
  );
  doc.gauge(
    "portcullis_edge_sync_lag_seconds",
    "Seconds since the hub last synced the edge successfully (absent for an edge never synced).",
    synced.map((e) => ({ labels: edge(e), value: Math.max(0, seconds(now - Date.parse(e.record.lastSuccessAt!))) })),
  );
  doc.gauge(
    "portcullis_edge_sync_failing",
    "1 when the hub's last sync attempt to the edge failed, else 0.",
    edges.map((e) => ({ labels: edge(e), value: e.record.lastError === null ? 0 : 1 })),
  );
  doc.gauge(
    "portcullis_edge_directory_version",
    "The directory version the edge holds now (as it answered).",
    answered(
      edges,
      (e) => e.status,
      (e, s) => (s.current === null ? [] : [{ labels: edge(e), value: s.current.version }]),
    ),
  );
  doc.gauge(
    "portcullis_edge_converged",
    "1 when the edge holds the root hash of the hub's latest snapshot, else 0 (absent for an edge that did not answer).",
    answered(
      edges,
      (e) => e.status,
      (e, s) => [{ labels: edge(e), value: snapshot !== null && s.current?.root === snapshot.root ? 1 : 0 }],
    ),
  );
  doc.gauge(
    "portcullis_spool_messages",
    "Messages in the edge's spool, by state (queued, suspended, dead, deleted).",
    answered(
      edges,
      (e) => e.spool,
      (e, page) => SPOOL_STATES.map((state) => ({ labels: { ...edge(e), state }, value: page.counts[state] })),
    ),
  );
  doc.gauge(
    "portcullis_spool_oldest_age_seconds",
    "Age of the oldest queued message in the edge's spool (0 when none is queued).",
    answered(
      edges,
      (e) => e.spool,
      (e, page) => [{ labels: edge(e), value: page.oldestQueuedAt === null ? 0 : Math.max(0, seconds(now - Date.parse(page.oldestQueuedAt))) }],
    ),
  );
  doc.gauge(
    "portcullis_hub_breaker_state",
    "Each upstream hub's circuit breaker as the edge sees it: 1 for its current state (closed, half-open, open), 0 for the others.",
    answered(
      edges,
      (e) => e.health,
      (e, report) =>
        report.hubs.flatMap((h) => BREAKER_STATES.map((state) => ({ labels: { ...edge(e), hub: h.hubId, state }, value: h.state === state ? 1 : 0 }))),
    ),
  );
  doc.gauge(
    "portcullis_hub_consecutive_failures",
    "Consecutive failed deliveries or probes of each upstream hub, as the edge counts them.",
    answered(
      edges,
      (e) => e.health,
      (e, report) => report.hubs.map((h) => ({ labels: { ...edge(e), hub: h.hubId }, value: h.failures })),
    ),
  );
}
