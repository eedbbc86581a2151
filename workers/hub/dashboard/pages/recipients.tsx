import { Hono } from "hono";
import { normaliseAddress } from "../../../../shared/directory/address.ts";
import { findRecipient, type RecipientRecord } from "../../db/recipients.ts";
import { type EdgeClientOf, lookups } from "../edges.ts";
import { type DashboardEnv, page } from "../guard.ts";
import { Badge, Page, render, when } from "../layout.tsx";
import { LOOKUP_ADDRESSES, MAX_FIELD_CHARS } from "../limits.ts";
import { searchRecipients } from "../recipient-search.ts";

function Flags({ r }: { r: RecipientRecord }) {
  return (
    <>
      {r.rejectInternet ? <Badge tone="warn">internal only</Badge> : null}{" "}
      {r.sclOverride === null ? null : <Badge tone="muted">{`SCL override ${r.sclOverride}`}</Badge>}
    </>
  );
}

/** GET /recipients?q= — find recipients; with `address=`, that address in the directory and at every edge. */
export function recipientRoutes(clientOf: EdgeClientOf): Hono<DashboardEnv> {
  const r = new Hono<DashboardEnv>();

  r.get("/", page("read-only"), async (c) => {
    const q = (c.req.query("q") ?? "").trim().slice(0, MAX_FIELD_CHARS);
    const address = normaliseAddress(c.req.query("address") ?? "");
    const [results, record] = await Promise.all([searchRecipients(c.env.DB, q), address === null ? null : findRecipient(c.env.DB, address)]);
    const asked = address === null ? [] : record === null ? [address] : [record.address, ...record.aliases].slice(0, LOOKUP_ADDRESSES);
    const answers = await lookups(c.env, clientOf, asked);
    return render(
      c,
      <Page title="Recipients" active="recipients" session={c.var.session} csrf={c.var.csrf} nonce={c.var.secureHeadersNonce}>
        <section class="card">
          <form class="search" method="get" action="/recipients">
            <label>
              Address, alias, prefix or @domain
              <input type="text" name="q" value={q} autofocus />
            </label>
            <button class="primary" type="submit">
              Find
            </button>
          </form>
        </section>

        {q === "" ? null : (
          <section class="card" id="results">
            {results.length === 0 ? (
              <p class="muted">No recipient matches.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th>Address</th>
                    <th>Aliases</th>
                    <th>Flags</th>
                    <th>Updated</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {results.map((rec) => (
                    <tr data-recipient={rec.address}>
                      <td>{rec.address}</td>
                      <td>{rec.aliases.join(", ")}</td>
                      <td>
                        <Flags r={rec} />
                      </td>
                      <td>{when(rec.updatedAt ?? rec.createdAt)}</td>
                      <td>
                        <a href={`/recipients?${new URLSearchParams({ q, address: rec.address })}`}>check at the edges</a>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        )}

        {address === null ? null : (
          <section class="card" id="lookup">
            <h2>{address}</h2>
            {record === null ? (
              <p class="muted">Not in the directory.</p>
            ) : (
              <p>
                {`Recipient ${record.address}`}
                {record.aliases.length > 0 ? `, aliases ${record.aliases.join(", ")}` : ", no aliases"} <Flags r={record} />
              </p>
            )}
            {answers.length === 0 ? (
              <p class="muted">No edges registered.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th>Edge</th>
                    <th>Address</th>
                    <th>Would accept</th>
                    <th>SMTP answer</th>
                    <th class="num">Directory version</th>
                  </tr>
                </thead>
                <tbody>
                  {answers.map((a) => (
                    <tr data-edge={a.edge} data-address={a.address}>
                      <td>{a.edge}</td>
                      <td>{a.address}</td>
                      {a.answer.ok ? (
                        <>
                          <td>{a.answer.value.accepted ? <Badge tone="good">accepted</Badge> : <Badge tone="bad">refused</Badge>}</td>
                          <td class="mono">{a.answer.value.smtp}</td>
                          <td class="num">{a.answer.value.version ?? "—"}</td>
                        </>
                      ) : (
                        <td colspan={3} class="bad">{`not answering: ${a.answer.error}`}</td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        )}
      </Page>,
    );
  });

  return r;
}
