import { API_EXIT } from "../api.ts";
import { ago, bytes, count, JsonListWriter, when } from "../format.ts";
import { type Io, UsageError } from "../output.ts";
import { printRecord, printTable, TableWriter } from "../table.ts";
import { connect, group, limitOption, parse, positionals } from "./command.ts";

export const QUEUE_USAGE = `Usage: portcullis queue [--edge ID [--state queued|suspended|dead|deleted] [--limit N]] [--json]
       portcullis queue show EDGE DELIVERY_ID [--json]
       portcullis queue retry|suspend|resume EDGE DELIVERY_ID [--json]
       portcullis queue delete EDGE DELIVERY_ID --reason TEXT [--json]

The queue viewer: mail an edge spooled because no hub took it at once.
  queue            every edge's spool: counts per state and the oldest queued message
  queue --edge ID  one edge's spooled messages in one state (default queued), all pages
  show             one spooled message: envelope, attempts, next attempt, last error
  retry            attempt delivery now (a dead message comes back with a fresh expiry)
  suspend/resume   hold a message / let it go again
  delete           delete a message for good; --reason is required and kept with a tombstone
See docs/delivery.md "The queue viewer". Common options: --profile NAME, --json.`;

const STATES = ["queued", "suspended", "dead", "deleted"];

interface SpoolItem {
  deliveryId: string;
  state?: string;
  envelope?: { from?: string; to?: string[] };
  messageId?: string | null;
  subject?: string | null;
  size?: number;
  receivedAt?: string;
  spooledAt?: string;
  expiresAt?: string;
  attempts?: number;
  nextAttemptAt?: string | null;
  lastError?: string | null;
  lastHub?: string | null;
  delayNotifiedAt?: string | null;
  reason?: string | null;
  endedAt?: string | null;
}

interface EdgeSpool {
  edge: string;
  reachable?: boolean;
  error?: string | null;
  counts?: Record<string, number> | null;
  oldestQueuedAt?: string | null;
}

const messagePath = (edge: string, id: string, action = ""): string => `/queues/${encodeURIComponent(edge)}/${encodeURIComponent(id)}${action}`;

async function overview(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { edge: { type: "string" }, state: { type: "string" }, limit: { type: "string" } });
  positionals(rest, []);
  if (values.state !== undefined && !STATES.includes(values.state)) throw new UsageError(`--state must be one of ${STATES.join(", ")}`);
  if (values.edge === undefined && (values.state !== undefined || values.limit !== undefined)) throw new UsageError("--state and --limit go with --edge ID");
  const max = limitOption(values.limit);
  const client = await connect(io, values.profile);

  if (values.edge === undefined) {
    const { items = [] } = await client.get<{ items?: EdgeSpool[] }>("/queues");
    if (values.json) io.out(JSON.stringify({ items }));
    else
      printTable(
        io,
        [
          { header: "EDGE", value: (e) => e.edge },
          { header: "QUEUED", value: (e) => count(e.counts?.queued), align: "right" },
          { header: "SUSPENDED", value: (e) => count(e.counts?.suspended), align: "right" },
          { header: "DEAD", value: (e) => count(e.counts?.dead), align: "right", style: (e) => ((e.counts?.dead ?? 0) > 0 ? "red" : undefined) },
          { header: "DELETED", value: (e) => count(e.counts?.deleted), align: "right" },
          { header: "OLDEST QUEUED", value: (e) => (e.reachable === false ? `unreachable: ${e.error ?? ""}` : ago(e.oldestQueuedAt)), shrink: true },
        ],
        items,
        "No edges registered.",
      );
    return API_EXIT.ok;
  }

  const state = values.state ?? "queued";
  const json = new JsonListWriter(io);
  const table = new TableWriter<SpoolItem>(io, [
    { header: "DELIVERY ID", value: (m) => m.deliveryId },
    { header: "STATE", value: (m) => m.state },
    { header: "FROM", value: (m) => m.envelope?.from, max: 40, shrink: true },
    { header: "TO", value: (m) => (m.envelope?.to ?? []).join(", "), max: 40, shrink: true },
    { header: "SUBJECT", value: (m) => m.subject, max: 40, shrink: true },
    { header: "SIZE", value: (m) => bytes(m.size), align: "right" },
    { header: "TRIES", value: (m) => m.attempts, align: "right" },
    { header: state === "queued" ? "NEXT TRY" : "ENDED", value: (m) => (state === "queued" ? ago(m.nextAttemptAt) : ago(m.endedAt)) },
    {
      header: state === "queued" || state === "suspended" ? "LAST ERROR" : "REASON",
      value: (m) => (state === "queued" || state === "suspended" ? m.lastError : m.reason),
      shrink: true,
    },
  ]);
  for await (const page of client.pages<SpoolItem>(`/queues/${encodeURIComponent(values.edge)}`, { state }, max)) (values.json ? json : table).add(page);
  if (values.json) json.end({ edge: values.edge, state });
  else table.end(`No ${state} messages on edge ${values.edge}.`);
  return API_EXIT.ok;
}

function printItem(io: Io, m: SpoolItem): void {
  printRecord(io, [
    ["delivery id", m.deliveryId],
    ["state", m.state],
    ["from", m.envelope?.from],
    ["to", (m.envelope?.to ?? []).join(", ")],
    ["message id", m.messageId],
    ["subject", m.subject],
    ["size", bytes(m.size)],
    ["received", when(m.receivedAt)],
    ["spooled", when(m.spooledAt)],
    ["expires", when(m.expiresAt)],
    ["attempts", m.attempts],
    ["next attempt", when(m.nextAttemptAt)],
    ["last hub", m.lastHub],
    ["last error", m.lastError],
    ["delay notice", when(m.delayNotifiedAt)],
    ["reason", m.reason],
    ["ended", when(m.endedAt)],
  ]);
}

async function show(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  const [edge, id] = positionals(rest, ["EDGE", "DELIVERY_ID"]);
  const client = await connect(io, values.profile);
  const { item } = await client.get<{ item: SpoolItem }>(messagePath(edge!, id!));
  if (values.json) io.out(JSON.stringify({ item }));
  else printItem(io, item);
  return API_EXIT.ok;
}

function action(name: "retry" | "suspend" | "resume", done: string) {
  return async (argv: string[], io: Io): Promise<number> => {
    const { values, positionals: rest } = parse(argv, {});
    const [edge, id] = positionals(rest, ["EDGE", "DELIVERY_ID"]);
    const client = await connect(io, values.profile);
    const { body } = await client.request<{ item?: SpoolItem }>("POST", messagePath(edge!, id!, `/${name}`));
    if (values.json) io.out(JSON.stringify(body));
    else
      io.out(`${done}: ${id} on ${edge} (now ${body.item?.state ?? "-"}${body.item?.nextAttemptAt ? `, next attempt ${ago(body.item.nextAttemptAt)}` : ""}).`);
    return API_EXIT.ok;
  };
}

async function remove(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { reason: { type: "string" } });
  const [edge, id] = positionals(rest, ["EDGE", "DELIVERY_ID"]);
  if (values.reason === undefined || values.reason.trim() === "")
    throw new UsageError('delete needs --reason TEXT (kept with the tombstone), e.g. --reason "spam run"');
  const client = await connect(io, values.profile);
  const { body } = await client.request<{ item?: SpoolItem }>("DELETE", messagePath(edge!, id!), { json: { reason: values.reason } });
  if (values.json) io.out(JSON.stringify(body));
  else io.out(`Deleted ${id} from ${edge}'s spool (reason kept: ${values.reason.trim()}).`);
  return API_EXIT.ok;
}

export const queue = group(
  "queue",
  {
    list: overview,
    show,
    retry: action("retry", "Retrying"),
    suspend: action("suspend", "Suspended"),
    resume: action("resume", "Resumed"),
    delete: remove,
  },
  overview,
);
