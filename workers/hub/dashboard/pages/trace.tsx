import { Hono } from "hono";
import { DELIVERY_ID } from "../../../../shared/delivery.ts";
import { getMessage, messageIdForDelivery } from "../../db/messages.ts";
import { onwardForMessage } from "../../db/onward.ts";
import { deliveryTrace, searchEvents, type TrackingEvent, type TrackingSearch } from "../../tracking/queries.ts";
import { DashboardError } from "../errors.ts";
import { type DashboardEnv, page } from "../guard.ts";
import { Badge, bytes, Page, render, when } from "../layout.tsx";
import { MAX_FIELD_CHARS, PAGE_ROWS } from "../limits.ts";

const FIELDS = ["messageId", "sender", "recipient", "since", "until"] as const;
type Field = (typeof FIELDS)[number];

const GOOD = new Set(["accepted", "delivered", "sent"]);
const BAD = new Set(["rejected", "failed", "refused", "dead", "error"]);

export function outcomeTone(outcome: string): "good" | "bad" | "warn" {
  return GOOD.has(outcome) ? "good" : BAD.has(outcome) ? "bad" : "warn";
}

/** A `datetime-local` value (no zone) is read as UTC, like every time the dashboard shows. */
function utc(raw: string): string {
  return /(Z|[+-]\d\d:?\d\d)$/i.test(raw) ? raw : `${raw.length === 16 ? `${raw}:00` : raw}Z`;
}

/** The search the form asks for; `<>` stands for the null sender. Null when the form is empty. */
function searchOf(values: Partial<Record<Field, string>>): TrackingSearch | null {
  const q: TrackingSearch = {};
  if (values.messageId) q.messageId = values.messageId;
  if (values.sender) q.sender = values.sender === "<>" ? "" : values.sender;
  if (values.recipient) q.recipient = values.recipient.toLowerCase();
  if (values.since) q.since = utc(values.since);
  if (values.until) q.until = utc(values.until);
  return Object.keys(q).length === 0 ? null : q;
}

function EventRows({ events, withDelivery }: { events: TrackingEvent[]; withDelivery: boolean }) {
  return (
    <table>
      <thead>
        <tr>
          <th>Time</th>
          <th>Edge</th>
          <th>Kind</th>
          <th>Outcome</th>
          <th>Sender</th>
          <th>Recipients</th>
          {withDelivery ? <th>Message-ID</th> : <th>Hub and attempts</th>}
          <th>SMTP / detail</th>
          <th class="num">SCL</th>
          {withDelivery ? <th>Delivery</th> : null}
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr data-event={e.eventId} data-outcome={e.outcome}>
            <td>{when(e.at)}</td>
            <td>{e.edgeId}</td>
            <td>{e.kind}</td>
            <td>
              <Badge tone={outcomeTone(e.outcome)}>{e.outcome}</Badge>
            </td>
            <td>{e.sender || "<>"}</td>
            <td>{e.recipients.join(", ")}</td>
            {withDelivery ? (
              <td class="mono">{e.messageId ?? ""}</td>
            ) : (
              <td>
                {e.hubId ?? ""}
                {e.attempts.map((a) => (
                  <div class={a.ok ? "good" : "bad"}>{`${a.hub}: ${a.ok ? "ok" : "failed"} in ${a.ms} ms${a.error ? ` — ${a.error}` : ""}`}</div>
                ))}
              </td>
            )}
            <td>{[e.smtp, e.detail].filter(Boolean).join(" — ")}</td>
            <td class="num">{e.scl ?? ""}</td>
            {withDelivery ? <td class="mono">{e.deliveryId === null ? "—" : <a href={`/trace/${e.deliveryId}`}>{e.deliveryId.slice(0, 8)}</a>}</td> : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** GET /trace — search tracking events; GET /trace/{deliveryId} — one delivery from the edge's decision to onward delivery. */
export function traceRoutes(): Hono<DashboardEnv> {
  const r = new Hono<DashboardEnv>();

  r.get("/", page("read-only"), async (c) => {
    const values: Partial<Record<Field, string>> = {};
    for (const f of FIELDS) {
      const v = c.req.query(f)?.trim();
      if (v) values[f] = v.slice(0, MAX_FIELD_CHARS);
    }
    const q = searchOf(values);
    const cursor = c.req.query("cursor");
    const result = q === null ? null : await searchEvents(c.env.DB, { ...q, limit: PAGE_ROWS, ...(cursor ? { cursor } : {}) });
    return render(
      c,
      <Page title="Message trace" active="trace" session={c.var.session} csrf={c.var.csrf} nonce={c.var.secureHeadersNonce}>
        <section class="card">
          <form class="search" method="get" action="/trace">
            <label>
              Message-ID
              <input type="text" name="messageId" value={values.messageId ?? ""} />
            </label>
            <label>
              Sender (&lt;&gt; for none)
              <input type="text" name="sender" value={values.sender ?? ""} />
            </label>
            <label>
              Recipient
              <input type="text" name="recipient" value={values.recipient ?? ""} />
            </label>
            <label>
              From (UTC)
              <input type="datetime-local" name="since" value={values.since ?? ""} />
            </label>
            <label>
              Until (UTC)
              <input type="datetime-local" name="until" value={values.until ?? ""} />
            </label>
            <button class="primary" type="submit">
              Search
            </button>
          </form>
        </section>
        {result === null ? (
          <p class="muted">Search by any combination of the fields; every decision, delivery round, spool round and notification is recorded.</p>
        ) : (
          <section class="card" id="events">
            {result.items.length === 0 ? <p class="muted">No events match.</p> : <EventRows events={result.items} withDelivery={true} />}
            {result.nextCursor !== null ? <a href={`/trace?${new URLSearchParams({ ...values, cursor: result.nextCursor })}`}>Older →</a> : null}
          </section>
        )}
      </Page>,
    );
  });

  r.get("/:deliveryId", page("read-only"), async (c) => {
    const id = c.req.param("deliveryId").toLowerCase();
    if (!DELIVERY_ID.test(id)) throw new DashboardError(400, "The delivery id must be a UUID.");
    const [events, stored] = await Promise.all([deliveryTrace(c.env.DB, id), messageIdForDelivery(c.env.DB, id)]);
    const message = stored === null ? null : await getMessage(c.env.DB, stored);
    const onward = message === null ? [] : await onwardForMessage(c.env.DB, message.id);
    if (events.length === 0 && message === null) throw new DashboardError(404, `Nothing is recorded for delivery ${id}.`);
    return render(
      c,
      <Page title={`Delivery ${id}`} active="trace" session={c.var.session} csrf={c.var.csrf} nonce={c.var.secureHeadersNonce}>
        {message === null ? (
          <p class="muted">The hub has not stored this message (refused, deferred, still spooled, or deleted).</p>
        ) : (
          <section class="card" id="stored">
            <h2>Stored at the hub</h2>
            <table>
              <tbody>
                <tr>
                  <th>From</th>
                  <td>{message.from || "<>"}</td>
                </tr>
                <tr>
                  <th>To</th>
                  <td>{message.to.join(", ")}</td>
                </tr>
                <tr>
                  <th>Subject</th>
                  <td>{message.subject ?? ""}</td>
                </tr>
                <tr>
                  <th>Message-ID</th>
                  <td class="mono">{message.messageId ?? ""}</td>
                </tr>
                <tr>
                  <th>Verdict</th>
                  <td>{`${message.action}, SCL ${message.scl}, ${bytes(message.size)}, received ${when(message.receivedAt)}, stored ${when(message.storedAt)}`}</td>
                </tr>
                <tr>
                  <th>Agents</th>
                  <td>
                    {message.agents.map((a) => (
                      <div class={a.result === "fail" ? "bad" : a.result === "skip" ? "muted" : undefined}>{`${a.agent}: ${a.result} — ${a.reason}`}</div>
                    ))}
                  </td>
                </tr>
              </tbody>
            </table>
          </section>
        )}
        <section class="card" id="timeline">
          <h2>Events</h2>
          {events.length === 0 ? <p class="muted">No tracking events (yet) for this delivery.</p> : <EventRows events={events} withDelivery={false} />}
        </section>
        {onward.length > 0 ? (
          <section class="card" id="onward">
            <h2>Onward delivery</h2>
            <table>
              <thead>
                <tr>
                  <th>Route</th>
                  <th>Recipients</th>
                  <th>State</th>
                  <th class="num">Attempts</th>
                  <th>Last error</th>
                  <th>Next attempt</th>
                </tr>
              </thead>
              <tbody>
                {onward.map((o) => (
                  <tr>
                    <td>{o.route.type === "webhook" ? `webhook ${o.route.url}` : `forward to ${o.route.address}`}</td>
                    <td>{o.recipients.join(", ")}</td>
                    <td>
                      <Badge tone={o.state === "delivered" ? "good" : o.state === "failed" ? "bad" : "warn"}>{o.state}</Badge>
                    </td>
                    <td class="num">{o.attempts}</td>
                    <td>{o.lastError ?? ""}</td>
                    <td>{when(o.nextAttemptAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        ) : null}
      </Page>,
    );
  });

  return r;
}
