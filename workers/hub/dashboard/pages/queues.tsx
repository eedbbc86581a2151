import { Hono } from "hono";
import { DELIVERY_ID } from "../../../../shared/delivery.ts";
import { SPOOL_STATES, type SpoolActionResult, type SpoolItem, type SpoolState } from "../../../../shared/delivery/spool-api.ts";
import { getEdge, listEdges } from "../../db/edges.ts";
import { type EdgeClientOf, askEdge, spoolSummaries, type SpoolSummaryRow } from "../edges.ts";
import { auditDashboardChange } from "../audit.ts";
import { DashboardError } from "../errors.ts";
import { action, type DashboardEnv, page } from "../guard.ts";
import { Badge, Csrf, IfRole, Page, bytes, render, when } from "../layout.tsx";
import { MAX_FIELD_CHARS, PAGE_ROWS } from "../limits.ts";
import type { Session } from "../session.ts";
import { hubLog } from "../../../../shared/log.ts";

type SpoolAction = "retry" | "suspend" | "resume" | "delete";

/** What each state allows, as the edge's spool index enforces it (it answers 409 otherwise). */
const ALLOWED: Record<SpoolState, SpoolAction[]> = {
  queued: ["retry", "suspend", "delete"],
  suspended: ["retry", "resume", "delete"],
  dead: ["retry", "delete"],
  deleted: [],
};

const DONE: Record<SpoolAction, string> = {
  retry: "The message was queued for an attempt now.",
  suspend: "The message was suspended.",
  resume: "The message was resumed and queued for an attempt now.",
  delete: "The message was deleted; its tombstone keeps the reason.",
};

function stateOf(raw: string | undefined): SpoolState {
  return SPOOL_STATES.includes(raw as SpoolState) ? (raw as SpoolState) : "queued";
}

function queueUrl(edge: string, state: SpoolState, extra: Record<string, string> = {}): string {
  return `/queues?${new URLSearchParams({ edge, state, ...extra })}`;
}

function Actions({ item, session, csrf }: { item: SpoolItem; session: Session; csrf: string }) {
  const base = `/queues/${encodeURIComponent(item.edgeId)}/${item.deliveryId}`;
  const allowed = ALLOWED[item.state];
  return (
    <IfRole session={session} role="operator">
      {allowed
        .filter((a) => a !== "delete")
        .map((a) => (
          <form class="inline" method="post" action={`${base}/${a}`}>
            <Csrf token={csrf} />
            <input type="hidden" name="state" value={item.state} />
            <button type="submit" data-action={a}>
              {a}
            </button>
          </form>
        ))}
      {allowed.includes("delete") ? (
        <details>
          <summary>delete…</summary>
          <form method="post" action={`${base}/delete`}>
            <Csrf token={csrf} />
            <input type="hidden" name="state" value={item.state} />
            <input type="text" name="reason" placeholder="reason (kept with the tombstone)" required maxlength={MAX_FIELD_CHARS} />
            <button class="danger" type="submit" data-action="delete">
              delete
            </button>
          </form>
        </details>
      ) : null}
    </IfRole>
  );
}

/** Every edge's spool: the count in each state (each a link to that list) and its oldest queued message. */
export function SpoolSummary({ summaries, title }: { summaries: SpoolSummaryRow[]; title?: string }) {
  return (
    <section class="card" id="spools">
      {title === undefined ? null : <h2>{title}</h2>}
      <table>
        <thead>
          <tr>
            <th>Edge</th>
            {SPOOL_STATES.map((s) => (
              <th class="num">{s}</th>
            ))}
            <th>Oldest queued</th>
          </tr>
        </thead>
        <tbody>
          {summaries.map((s) => (
            <tr data-edge={s.edge}>
              <td>{s.edge}</td>
              {s.counts === null ? (
                <td colspan={SPOOL_STATES.length + 1} class="bad">{`not answering: ${s.error ?? ""}`}</td>
              ) : (
                <>
                  {SPOOL_STATES.map((st) => (
                    <td class="num">
                      <a href={queueUrl(s.edge, st)}>{s.counts![st]}</a>
                    </td>
                  ))}
                  <td>{when(s.oldestQueuedAt)}</td>
                </>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** GET /queues — every edge's spool, one edge's messages in one state, and (for operators) the actions on them. */
export function queueRoutes(clientOf: EdgeClientOf): Hono<DashboardEnv> {
  const r = new Hono<DashboardEnv>();

  r.get("/", page("read-only"), async (c) => {
    const [summaries, edges] = await Promise.all([spoolSummaries(c.env, clientOf), listEdges(c.env.DB)]);
    const state = stateOf(c.req.query("state"));
    const edge = edges.find((e) => e.id === c.req.query("edge")) ?? edges[0];
    const cursor = c.req.query("cursor");
    const answer =
      edge === undefined
        ? null
        : await askEdge(clientOf, c.env, edge, (client) => client.spoolList({ state, limit: PAGE_ROWS, ...(cursor ? { cursor } : {}) }));
    const done = DONE[c.req.query("done") as SpoolAction] ?? null;
    return render(
      c,
      <Page title="Queues" active="queues" session={c.var.session} csrf={c.var.csrf} nonce={c.var.secureHeadersNonce} notice={done}>
        <SpoolSummary summaries={summaries} />

        {edge === undefined || answer === null ? (
          <p class="muted">No edges registered.</p>
        ) : (
          <section class="card" id="spool">
            <h2>{`${edge.id}: ${state}`}</h2>
            <p>
              {SPOOL_STATES.map((s) => (
                <>{s === state ? <strong>{s}</strong> : <a href={queueUrl(edge.id, s)}>{s}</a>} </>
              ))}
            </p>
            {!answer.ok ? (
              <p class="error">{`Edge ${edge.id} is not answering: ${answer.error}`}</p>
            ) : answer.value.items.length === 0 ? (
              <p class="muted">No {state} messages.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th>Delivery</th>
                    <th>From</th>
                    <th>To</th>
                    <th>Subject</th>
                    <th class="num">Size</th>
                    <th class="num">Attempts</th>
                    <th>Next attempt</th>
                    <th>Last error</th>
                    <th>Expires</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {answer.value.items.map((item) => (
                    <tr data-delivery={item.deliveryId}>
                      <td class="mono">
                        <a href={`/trace/${item.deliveryId}`}>{item.deliveryId.slice(0, 8)}</a>
                      </td>
                      <td>{item.envelope.from || "<>"}</td>
                      <td>{item.envelope.to.join(", ")}</td>
                      <td>{item.subject ?? ""}</td>
                      <td class="num">{bytes(item.size)}</td>
                      <td class="num">{item.attempts}</td>
                      <td>{when(item.nextAttemptAt)}</td>
                      <td>{item.reason ?? item.lastError ?? ""}</td>
                      <td>{when(item.expiresAt)}</td>
                      <td>
                        {item.state === "deleted" ? <Badge tone="muted">deleted</Badge> : <Actions item={item} session={c.var.session} csrf={c.var.csrf} />}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {answer.ok && answer.value.nextCursor !== null ? <a href={queueUrl(edge.id, state, { cursor: answer.value.nextCursor })}>Older →</a> : null}
          </section>
        )}
      </Page>,
    );
  });

  /** POST /queues/{edge}/{deliveryId}/{retry|suspend|resume|delete} — the edge's own spool action, as the admin API calls it. */
  r.post("/:edge/:id/:action{retry|suspend|resume|delete}", action("operator"), async (c) => {
    const edge = await getEdge(c.env.DB, c.req.param("edge"));
    if (edge === null) throw new DashboardError(404, "No such edge.");
    const id = c.req.param("id");
    if (!DELIVERY_ID.test(id)) throw new DashboardError(400, "The delivery id must be a UUID.");
    const verb = c.req.param("action") as SpoolAction;
    const reason = (c.var.form.reason ?? "").trim();
    if (verb === "delete" && (reason === "" || reason.length > MAX_FIELD_CHARS))
      throw new DashboardError(400, `A reason (1–${MAX_FIELD_CHARS} characters) is required.`);
    const answer = await askEdge(clientOf, c.env, edge, (client): Promise<SpoolActionResult> => {
      if (verb === "retry") return client.spoolRetry(id);
      if (verb === "suspend") return client.spoolSuspend(id);
      if (verb === "resume") return client.spoolResume(id);
      return client.spoolDelete(id, reason);
    });
    if (!answer.ok) throw new DashboardError(502, `Edge ${edge.id} did not answer: ${answer.error}`);
    if (!answer.value.ok)
      throw new DashboardError(answer.value.error === "not_found" ? 404 : answer.value.error === "conflict" ? 409 : 400, answer.value.message);
    hubLog(c.env.HUB_ID, { deliveryId: id }).info("dashboard_spool_action", { action: verb, edge: edge.id, token: c.var.session.tid });
    await auditDashboardChange(c, `${verb} spooled message ${id} on edge ${edge.id}${verb === "delete" ? `: ${reason}` : ""}`, id);
    return c.redirect(queueUrl(edge.id, stateOf(c.var.form.state), { done: verb }), 303);
  });

  return r;
}
