import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { ENVELOPE_OPTIONS, EXIT, type Io, UsageError } from "./output.ts";

export const SEND_USAGE = `Usage: portcullis send FILE.eml --from ADDRESS --to ADDRESS [--edge URL] [--json]

Sends a message to a local edge (wrangler dev / npm start) through Cloudflare's local
email endpoint, as Email Routing would deliver it, and prints the edge's answer.
  --edge   the edge's URL (default: $PORTCULLIS_EDGE_URL or http://localhost:8787)
  --json   print the endpoint's JSON answer as is
Exit code 0 accepted, 2 rejected (5xx), 3 deferred (4xx: the sender would retry), 1 no answer.`;

/** What the local endpoint answers with `format=json`. */
interface LocalEmailOutcome {
  outcome?: string;
  rejectReason?: string | null;
  error?: string;
}

export async function send(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...ENVELOPE_OPTIONS, edge: { type: "string" } },
  });
  if (positionals.length !== 1) throw new UsageError("send takes exactly one message file");
  if (values.from === undefined || values.to === undefined) throw new UsageError("send needs --from and --to (the SMTP envelope)");
  const file = positionals[0]!;
  const edge = (values.edge ?? process.env.PORTCULLIS_EDGE_URL ?? "http://localhost:8787").replace(/\/+$/, "");

  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = new Uint8Array(await readFile(file));
  } catch (err) {
    io.err(`${file}: cannot read: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failed;
  }
  const url = `${edge}/cdn-cgi/local/email?${new URLSearchParams({ from: values.from, to: values.to, format: "json" })}`;
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", body: raw, headers: { "content-type": "message/rfc822" }, signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    io.err(`No answer from the edge at ${edge}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
    io.err("Is the local stack running? Start it with: npm start");
    return EXIT.failed;
  }
  const text = await res.text();
  let body: LocalEmailOutcome;
  try {
    body = JSON.parse(text) as LocalEmailOutcome;
  } catch {
    body = { error: text.trim() };
  }
  if (values.json) io.out(JSON.stringify({ status: res.status, ...body }));

  if (res.ok && body.outcome === "ok" && !body.rejectReason) {
    if (!values.json) io.out(`accepted: ${values.to} ← ${values.from} (${file})`);
    return EXIT.ok;
  }
  if (res.ok && body.rejectReason) {
    if (!values.json) io.out(`rejected: ${body.rejectReason}`);
    return /^4/.test(body.rejectReason) ? EXIT.deferred : EXIT.rejected;
  }
  if (res.status >= 500 || body.outcome === "exception") {
    // The handler threw: Email Routing answers the sender with a temporary failure.
    if (!values.json) io.out(`deferred: the edge answered with a temporary failure; a real sender would retry${body.error ? ` (${body.error})` : ""}`);
    return EXIT.deferred;
  }
  if (!values.json) io.err(`The edge refused the request (HTTP ${res.status}): ${body.error ?? text.slice(0, 300)}`);
  return EXIT.failed;
}
