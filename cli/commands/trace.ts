import { API_EXIT } from "../api.ts";
import { JsonListWriter, pointInTime, when } from "../format.ts";
import { type Io, UsageError } from "../output.ts";
import { type Style, TableWriter } from "../table.ts";
import { connect, limitOption, parse } from "./command.ts";

export const TRACE_USAGE = `Usage: portcullis trace --message-id ID | --sender ADDRESS | --recipient ADDRESS
                       [--since 2h|ISO] [--until 30m|ISO] [--outcome OUTCOME] [--limit N] [--json]
       portcullis trace DELIVERY_ID [--json]

Message tracking: what happened to a message, from the edge's decision to its delivery.
  search         events matching a Message-ID, an envelope sender or a recipient, newest first, all
                 pages (--limit N stops after N). --since/--until take an ISO date or
                 time, or a duration before now (90s, 15m, 2h, 3d, 1w). --outcome keeps one
                 outcome (accepted, quarantined, rejected, tempfailed, spooled, delivered, failed,
                 refused, retry, dead, …)
  DELIVERY_ID    every event of one delivery, oldest first
Common options: --profile NAME, --json.`;

interface TrackingEvent {
  eventId?: string;
  at?: string;
  edgeId?: string;
  kind?: string;
  deliveryId?: string | null;
  messageId?: string | null;
  sender?: string;
  recipients?: string[];
  outcome?: string;
  smtp?: string | null;
  scl?: number | null;
  hub?: string | null;
  hubId?: string | null;
  latencyMs?: number | null;
  detail?: string | null;
}

function outcomeStyle(outcome: string | undefined): Style | undefined {
  if (outcome === "accepted" || outcome === "delivered" || outcome === "sent") return "green";
  if (outcome === "rejected" || outcome === "failed" || outcome === "refused" || outcome === "dead" || outcome === "error") return "red";
  if (outcome === undefined) return undefined;
  return "yellow";
}

function table(io: Io, withDelivery: boolean): TableWriter<TrackingEvent> {
  return new TableWriter<TrackingEvent>(io, [
    { header: "AT", value: (e) => when(e.at) },
    { header: "EDGE", value: (e) => e.edgeId },
    { header: "KIND", value: (e) => e.kind },
    { header: "OUTCOME", value: (e) => e.outcome, style: (e) => outcomeStyle(e.outcome) },
    { header: "SMTP", value: (e) => e.smtp, max: 40, shrink: true },
    { header: "SCL", value: (e) => e.scl, align: "right" },
    ...(withDelivery
      ? [
          { header: "FROM", value: (e: TrackingEvent) => e.sender, max: 32, shrink: true },
          { header: "TO", value: (e: TrackingEvent) => (e.recipients ?? []).join(", "), max: 32, shrink: true },
          { header: "DELIVERY ID", value: (e: TrackingEvent) => e.deliveryId },
        ]
      : []),
    { header: "HUB", value: (e) => e.hubId ?? e.hub },
    { header: "LATENCY", value: (e) => (typeof e.latencyMs === "number" ? `${e.latencyMs} ms` : undefined), align: "right" },
    ...(withDelivery ? [] : [{ header: "DETAIL", value: (e: TrackingEvent) => e.detail, shrink: true }]),
  ]);
}

export async function trace(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {
    "message-id": { type: "string" },
    sender: { type: "string" },
    recipient: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    outcome: { type: "string" },
    limit: { type: "string" },
  });
  const search = values["message-id"] !== undefined || values.sender !== undefined || values.recipient !== undefined;
  if (rest.length > 1) throw new UsageError(`trace takes one delivery id, got ${rest.join(" ")}`);
  if (rest.length === 1 && (search || values.since !== undefined || values.until !== undefined || values.outcome !== undefined)) {
    throw new UsageError("trace DELIVERY_ID takes no search options; search with --message-id, --sender or --recipient instead");
  }
  if (rest.length === 0 && !search) throw new UsageError("trace needs a delivery id, or --message-id, --sender or --recipient");
  const max = limitOption(values.limit);
  const client = await connect(io, values.profile);

  if (rest.length === 1) {
    const deliveryId = rest[0]!;
    const { items = [] } = await client.get<{ items?: TrackingEvent[] }>(`/tracking/${encodeURIComponent(deliveryId)}`);
    if (values.json) io.out(JSON.stringify({ deliveryId, items }));
    else {
      const first = items[0];
      if (first !== undefined) {
        io.out(
          `Delivery ${deliveryId}: ${first.sender ?? "-"} → ${(first.recipients ?? []).join(", ") || "-"}${first.messageId ? ` (${first.messageId})` : ""}`,
        );
      }
      const t = table(io, false);
      t.add(items);
      t.end(`No events for delivery ${deliveryId}.`);
    }
    return API_EXIT.ok;
  }

  const query = {
    messageId: values["message-id"],
    sender: values.sender,
    recipient: values.recipient,
    since: values.since === undefined ? undefined : pointInTime(values.since, "--since"),
    until: values.until === undefined ? undefined : pointInTime(values.until, "--until"),
    outcome: values.outcome,
  };
  const json = new JsonListWriter(io);
  const t = table(io, true);
  for await (const page of client.pages<TrackingEvent>("/tracking", query, max)) (values.json ? json : t).add(page);
  if (values.json) json.end();
  else t.end("No events match.");
  return API_EXIT.ok;
}
