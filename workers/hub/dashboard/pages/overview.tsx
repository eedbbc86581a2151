import { type Context, Hono } from "hono";
import { every } from "hono/combine";
import { mailFlow } from "../../tracking/queries.ts";
import { FlowChart, FlowLegend } from "../chart.tsx";
import { type EdgeClientOf, edgeViews, hubViews, spoolSummaries } from "../edges.ts";
import { type DashboardEnv, page } from "../guard.ts";
import { SpoolSummary } from "./queues.tsx";
import { Badge, Page, render, when } from "../layout.tsx";

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Browsers (clients that ask for HTML) get the dashboard at `/`; every other client (curl, uptime
 * checks, `Accept: application/json`) keeps getting the hub's JSON description there.
 */
function wantsHtml(c: Context): boolean {
  return /\btext\/html\b/i.test(c.req.header("accept") ?? "");
}

/** GET / — mail flow over the last 24 hours, the edges' directory convergence, hub health and the spools. */
export function overviewRoutes(clientOf: EdgeClientOf): Hono<DashboardEnv> {
  const r = new Hono<DashboardEnv>();

  const overview = every(page("read-only"), async (c: Context<DashboardEnv>) => {
    const now = Date.now();
    // The hour buckets end with the current (partial) hour.
    const until = new Date(Math.ceil(now / 3_600_000) * 3_600_000).toISOString();
    const since = new Date(Date.parse(until) - DAY_MS).toISOString();
    const [flow, directory, health, spools] = await Promise.all([
      mailFlow(c.env.DB, { since, until, bucketMinutes: 60 }),
      edgeViews(c.env, clientOf),
      hubViews(c.env, clientOf),
      spoolSummaries(c.env, clientOf),
    ]);
    return render(
      c,
      <Page title="Overview" active="overview" session={c.var.session} csrf={c.var.csrf} nonce={c.var.secureHeadersNonce}>
        <section class="card" id="mail-flow">
          <h2>Mail flow, last 24 hours (per hour, UTC)</h2>
          <FlowChart buckets={flow} />
          <FlowLegend buckets={flow} />
        </section>

        <section class="card" id="edges">
          <h2>Edges and directory sync</h2>
          <p class="muted">
            Hub root <code>{directory.root.slice(0, 16)}…</code>, {directory.recipients} addresses.
          </p>
          {directory.edges.length === 0 ? (
            <p class="muted">No edges registered.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Edge</th>
                  <th>Transport</th>
                  <th>Sync</th>
                  <th class="num">Version</th>
                  <th>Root</th>
                  <th>Lease holder</th>
                  <th>Last success</th>
                  <th>Last error</th>
                </tr>
              </thead>
              <tbody>
                {directory.edges.map((e) => (
                  <tr data-edge={e.id}>
                    <td>{e.id}</td>
                    <td class="mono">{e.transport}</td>
                    <td>
                      {!e.reachable ? (
                        <Badge tone="bad">not answering</Badge>
                      ) : e.converged ? (
                        <Badge tone="good">converged</Badge>
                      ) : (
                        <Badge tone="warn">behind</Badge>
                      )}
                    </td>
                    <td class="num">{e.version ?? "—"}</td>
                    <td class="mono">{e.root === null ? "—" : `${e.root.slice(0, 16)}…`}</td>
                    <td>{e.leaseHolder ?? "—"}</td>
                    <td>{when(e.lastSuccessAt)}</td>
                    <td>{e.lastError ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>

        <section class="card" id="hubs">
          <h2>Upstream hubs</h2>
          <table>
            <thead>
              <tr>
                <th>Hub</th>
                <th>Transport</th>
                <th class="num">Priority</th>
                <th>Health</th>
                <th>As the edges see it</th>
              </tr>
            </thead>
            <tbody>
              {health.hubs.map((h) => (
                <tr data-hub={h.id}>
                  <td>{h.id}</td>
                  <td>{h.transport}</td>
                  <td class="num">{h.priority}</td>
                  <td>
                    <Badge tone={h.health === "healthy" ? "good" : h.health === "unknown" ? "muted" : h.health === "down" ? "bad" : "warn"}>{h.health}</Badge>
                  </td>
                  <td>
                    {h.edges.length === 0
                      ? "no reports yet"
                      : h.edges.map((v) => (
                          <div>
                            {`${v.edge}: breaker ${v.state}, ${v.failures} failure(s), last ok ${v.lastOkAt === null ? "never" : when(v.lastOkAt)}`}
                            {v.lastError === null ? "" : ` — ${v.lastError}`}
                          </div>
                        ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {health.unreachable.length > 0 ? <p class="bad">Not answering: {health.unreachable.map((u) => `${u.edge} (${u.error})`).join(", ")}</p> : null}
        </section>

        <SpoolSummary summaries={spools} title="Spools" />
      </Page>,
    );
  });

  r.get("/", async (c, next) => {
    if (!wantsHtml(c)) {
      return c.json({ service: "portcullis-hub", api: "/api/v1", docs: "/api/v1/docs", openapi: "/api/v1/openapi.json", health: "/api/v1/health" });
    }
    await overview(c, next);
    return c.res;
  });
  return r;
}
