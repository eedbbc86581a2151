import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { RecipientResult, RelayAnswer } from "../shared/relay/api.ts";
import { EXIT, type Io, UsageError } from "./output.ts";

export const RELAY_TEST_USAGE = `Usage: portcullis relay-test --key KEY --from ADDRESS --to ADDRESS [--to ADDRESS…] [options]

Submits a test message to an edge's relay (POST /v1/relay) the way an application would, and
prints what became of each recipient.
  --edge URL             the edge (default: $PORTCULLIS_EDGE_URL or http://localhost:8787)
  --key KEY              the relay client's API key (default: $PORTCULLIS_RELAY_KEY)
  --from ADDRESS         the sender (From); it must be allowed for the client
  --to ADDRESS           a recipient; repeat for more
  --subject TEXT         the subject (default: "Portcullis relay test" and the time)
  --text TEXT            the body (default: a line saying what this is)
  --file FILE.eml        send this message as it is (message/rfc822) instead; --to, if given,
                         sets the envelope, otherwise To, Cc and Bcc do
  --idempotency-key KEY  sent as Idempotency-Key: a retry with the same key never sends twice
  --json                 print the edge's answer as it is: {"status": HTTP status, "body": …}
Exit code 0 every recipient accepted (delivered, queued or sent), 2 refused (a 4xx answer, or a
recipient rejected or failed), 3 try again later (429, 5xx, or a recipient deferred), 1 no answer.`;

/** What a recipient line says. */
function describe(r: RecipientResult): string {
  const how = r.via === undefined ? "" : ` via ${r.via}`;
  const why = r.code === undefined ? "" : ` — ${r.code}${r.message === undefined ? "" : `: ${r.message}`}`;
  return `  ${r.status.padEnd(9)} ${r.address} (${r.route}${how})${why}`;
}

export async function relayTest(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      edge: { type: "string" },
      key: { type: "string" },
      from: { type: "string" },
      to: { type: "string", multiple: true },
      subject: { type: "string" },
      text: { type: "string" },
      file: { type: "string" },
      "idempotency-key": { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const key = values.key ?? process.env.PORTCULLIS_RELAY_KEY;
  if (key === undefined || key === "") throw new UsageError("relay-test needs the client's API key: --key KEY or PORTCULLIS_RELAY_KEY");
  const to = values.to ?? [];
  if (values.file === undefined && (values.from === undefined || to.length === 0))
    throw new UsageError("relay-test needs --from and at least one --to (or --file)");
  const edge = (values.edge ?? process.env.PORTCULLIS_EDGE_URL ?? "http://localhost:8787").replace(/\/+$/, "");

  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (values["idempotency-key"] !== undefined) headers["idempotency-key"] = values["idempotency-key"];
  let url = `${edge}/v1/relay`;
  let body: Uint8Array<ArrayBuffer> | string;
  if (values.file !== undefined) {
    try {
      body = new Uint8Array(await readFile(values.file));
    } catch (err) {
      io.err(`${values.file}: cannot read: ${err instanceof Error ? err.message : String(err)}`);
      return EXIT.failed;
    }
    headers["content-type"] = "message/rfc822";
    if (to.length > 0) url += `?${new URLSearchParams(to.map((t) => ["to", t]))}`;
  } else {
    headers["content-type"] = "application/json";
    body = JSON.stringify({
      from: values.from,
      to,
      subject: values.subject ?? `Portcullis relay test ${new Date().toISOString()}`,
      text: values.text ?? "A test message sent with `portcullis relay-test` through the Portcullis relay.\n",
    });
  }

  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    io.err(`No answer from the edge at ${edge}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
    return EXIT.failed;
  }
  const text = await res.text();
  let answer: Partial<RelayAnswer> & { error?: { code: string; message: string } };
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    answer = { error: { code: "not_json", message: text.trim().slice(0, 300) } };
  }
  if (values.json) io.out(JSON.stringify({ status: res.status, body: answer }));

  const recipients = answer.recipients ?? [];
  const later = res.status === 429 || res.status >= 500 || recipients.some((r) => r.status === "deferred");
  const refused = (res.status >= 400 && !later) || recipients.some((r) => r.status === "rejected" || r.status === "failed");
  if (!values.json) {
    if (res.ok) io.out(`${answer.status === "accepted" ? "accepted" : "partly accepted"}: ${answer.messageId ?? ""} (delivery id ${answer.deliveryId ?? "?"})`);
    else {
      const retry = res.headers.get("retry-after");
      io.out(
        `${later ? "deferred" : "refused"} (HTTP ${res.status} ${answer.error?.code ?? ""}): ${answer.error?.message ?? ""}${retry === null ? "" : ` — retry after ${retry} s`}`,
      );
    }
    for (const r of recipients) io.out(describe(r));
    if (res.ok)
      io.out(
        answer.dkim?.length
          ? `  DKIM: ${answer.dkim.map((d) => `${d.algorithm} d=${d.domain} s=${d.selector}`).join(", ")}`
          : "  DKIM: not signed (no key for the From domain)",
      );
  }
  if (later) return EXIT.deferred;
  if (refused) return EXIT.rejected;
  return EXIT.ok;
}
