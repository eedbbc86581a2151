import { Hono } from "hono";
import { normaliseAddress, normaliseDomain } from "../../../../shared/directory/address.ts";
import { heldMailRefusal } from "../../api/backups.ts";
import { isStandby } from "../../backup/standby.ts";
import { safePreview } from "../../quarantine/preview.ts";
import { ACTOR_MAX_CHARS } from "../../quarantine/limits.ts";
import { deleteQuarantined, releaseMessage } from "../../quarantine/release.ts";
import { getStoredMessage, listQuarantine, type QuarantineItem } from "../../quarantine/store.ts";
import { auditDashboardChange } from "../audit.ts";
import { DashboardError } from "../errors.ts";
import { action, type DashboardEnv, page } from "../guard.ts";
import { Badge, bytes, Csrf, IfRole, Page, render, when } from "../layout.tsx";
import { MAX_FIELD_CHARS, PAGE_ROWS } from "../limits.ts";
import type { Session } from "../session.ts";
import { hubLog } from "../../../../shared/log.ts";

const DONE: Record<string, string> = {
  release: "The message was released: it is in the mailbox and routed on like accepted mail.",
  delete: "The message was deleted from the quarantine.",
};

/** An address or `@domain` filter as the quarantine store takes it; null for none or an unreadable one. */
function filter(raw: string | undefined): string | null {
  const v = (raw ?? "").trim().slice(0, MAX_FIELD_CHARS);
  if (v === "") return null;
  if (v.startsWith("@")) {
    const domain = normaliseDomain(v.slice(1));
    return domain === null ? null : `@${domain}`;
  }
  return normaliseAddress(v);
}

function messageId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw new DashboardError(400, "The message id must be a positive integer.");
  return Number(raw);
}

function Actions({ id, session, csrf }: { id: number; session: Session; csrf: string }) {
  return (
    <IfRole session={session} role="operator">
      <form class="inline" method="post" action={`/quarantine/${id}/release`}>
        <Csrf token={csrf} />
        <button type="submit" data-action="release">
          release
        </button>
      </form>{" "}
      <form class="inline" method="post" action={`/quarantine/${id}/delete`}>
        <Csrf token={csrf} />
        <button class="danger" type="submit" data-action="delete">
          delete
        </button>
      </form>
    </IfRole>
  );
}

function reasons(item: QuarantineItem): string {
  return item.reasons.map((a) => `${a.agent}: ${a.reason}`).join("; ");
}

/** GET /quarantine — quarantined mail; GET /quarantine/{id} — a text-only preview; POST …/release | delete (operators). */
export function quarantineRoutes(): Hono<DashboardEnv> {
  const r = new Hono<DashboardEnv>();

  r.get("/", page("read-only"), async (c) => {
    const sender = filter(c.req.query("sender"));
    const recipient = filter(c.req.query("recipient"));
    const before = c.req.query("before");
    const items = await listQuarantine(c.env.DB, { limit: PAGE_ROWS, before: before === undefined ? null : messageId(before), sender, recipient });
    const last = items.at(-1);
    return render(
      c,
      <Page
        title="Quarantine"
        active="quarantine"
        session={c.var.session}
        csrf={c.var.csrf}
        nonce={c.var.secureHeadersNonce}
        notice={DONE[c.req.query("done") ?? ""] ?? null}
      >
        <section class="card">
          <form class="search" method="get" action="/quarantine">
            <label>
              Sender (address or @domain)
              <input type="text" name="sender" value={sender ?? ""} />
            </label>
            <label>
              Recipient (address or @domain)
              <input type="text" name="recipient" value={recipient ?? ""} />
            </label>
            <button class="primary" type="submit">
              Filter
            </button>
          </form>
        </section>
        <section class="card" id="quarantine">
          {items.length === 0 ? (
            <p class="muted">The quarantine is empty{sender !== null || recipient !== null ? " for this filter" : ""}.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Received</th>
                  <th>From</th>
                  <th>To</th>
                  <th>Subject</th>
                  <th class="num">SCL</th>
                  <th>Why</th>
                  <th class="num">Size</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {items.map((m) => (
                  <tr data-message={String(m.id)}>
                    <td>{when(m.receivedAt)}</td>
                    <td>{m.from || "<>"}</td>
                    <td>{m.to.join(", ")}</td>
                    <td>
                      <a class="preview" href={`/quarantine/${m.id}`}>
                        {m.subject ?? "(no subject)"}
                      </a>
                    </td>
                    <td class="num">{m.scl}</td>
                    <td>{reasons(m)}</td>
                    <td class="num">{bytes(m.size)}</td>
                    <td>
                      <Actions id={m.id} session={c.var.session} csrf={c.var.csrf} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {items.length === PAGE_ROWS && last !== undefined ? (
            <a href={`/quarantine?${new URLSearchParams({ sender: sender ?? "", recipient: recipient ?? "", before: String(last.id) })}`}>Older →</a>
          ) : null}
        </section>
      </Page>,
    );
  });

  r.get("/:id", page("read-only"), async (c) => {
    const id = messageId(c.req.param("id"));
    const message = await getStoredMessage(c.env.DB, id);
    if (message === null) throw new DashboardError(404, "No such message.");
    const object = message.action === "quarantine" ? await c.env.MAILBOX.get(message.r2Key) : null;
    const preview = object === null ? null : await safePreview(new Uint8Array(await object.arrayBuffer()));
    return render(
      c,
      <Page title={`Quarantined message ${id}`} active="quarantine" session={c.var.session} csrf={c.var.csrf} nonce={c.var.secureHeadersNonce}>
        <section class="card" id="message">
          <table>
            <tbody>
              <tr>
                <th>Envelope</th>
                <td>{`${message.from || "<>"} → ${message.to.join(", ")}`}</td>
              </tr>
              <tr>
                <th>Subject</th>
                <td>{message.subject ?? "(no subject)"}</td>
              </tr>
              <tr>
                <th>Verdict</th>
                <td>{`SCL ${message.scl}; ${reasons(message) || "no failing agent recorded"}`}</td>
              </tr>
              <tr>
                <th>Received</th>
                <td>
                  {when(message.receivedAt)} <a href={`/trace/${message.deliveryId}`}>trace</a>
                </td>
              </tr>
              <tr>
                <th>State</th>
                <td>
                  {message.action === "quarantine" ? (
                    <>
                      <Badge tone="warn">quarantined</Badge> <Actions id={id} session={c.var.session} csrf={c.var.csrf} />
                    </>
                  ) : message.releasedAt !== null ? (
                    <Badge tone="good">{`released ${when(message.releasedAt)} by ${message.releasedBy ?? "?"}`}</Badge>
                  ) : message.deletedAt !== null ? (
                    <Badge tone="muted">{`deleted ${when(message.deletedAt)} by ${message.deletedBy ?? "?"}`}</Badge>
                  ) : (
                    <Badge tone="good">delivered</Badge>
                  )}
                </td>
              </tr>
            </tbody>
          </table>
        </section>
        {message.action !== "quarantine" ? null : preview === null ? (
          <p class="error">The message's stored bytes are missing.</p>
        ) : (
          <>
            {preview.problem === null ? null : (
              <p class="error">{`The message could not be parsed (${preview.problem.message}); only its headers are shown.`}</p>
            )}
            <section class="card">
              <h2>{`Text${preview.text.source === "text/html" ? " (from the HTML part, as text)" : ""}${preview.text.truncated ? ", truncated" : ""}`}</h2>
              <pre class="preview preview-text">{preview.text.content}</pre>
            </section>
            {preview.links.length > 0 ? (
              <section class="card">
                <h2>Links (not clickable)</h2>
                <ul>
                  {preview.links.map((l) => (
                    <li class="mono">{`${l.text ? `${l.text} → ` : ""}${l.href}`}</li>
                  ))}
                </ul>
              </section>
            ) : null}
            {preview.attachmentCount > 0 ? (
              <section class="card">
                <h2>{`Attachments (${preview.attachmentCount})`}</h2>
                <table>
                  <tbody>
                    {preview.attachments.map((a) => (
                      <tr>
                        <td>{a.filename ?? "(no name)"}</td>
                        <td>{a.contentType}</td>
                        <td class="num">{bytes(a.size)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </section>
            ) : null}
            <section class="card">
              <h2>{`Headers${preview.headers.truncated ? ", truncated" : ""}`}</h2>
              <pre class="preview preview-headers">{preview.headers.text}</pre>
            </section>
          </>
        )}
      </Page>,
    );
  });

  r.post("/:id/:verb{release|delete}", action("operator"), async (c) => {
    // A standby only holds mail for its primary: acting on it here would route it onward twice.
    if (isStandby(c.env)) throw new DashboardError(409, heldMailRefusal(c.env));
    const id = messageId(c.req.param("id"));
    const verb = c.req.param("verb");
    // Stamped with the token's name, as the admin API stamps its releases and deletions. A refusal
    // (already released or deleted, bytes missing) is the module's own error, shown with its status.
    const by = c.var.session.name.slice(0, ACTOR_MAX_CHARS);
    if (verb === "release") await releaseMessage(c.env, id, by);
    else await deleteQuarantined(c.env, id, by);
    hubLog(c.env.HUB_ID).info("dashboard_quarantine_action", { action: verb, message: id, token: c.var.session.tid });
    await auditDashboardChange(c, `${verb === "release" ? "released" : "deleted"} quarantined message ${id}`, String(id));
    return c.redirect(`/quarantine?done=${verb}`, 303);
  });

  return r;
}
