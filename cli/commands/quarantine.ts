import { API_EXIT } from "../api.ts";
import { JsonListWriter, when } from "../format.ts";
import { type Io, UsageError } from "../output.ts";
import { clean, printRecord, TableWriter } from "../table.ts";
import { confirm, connect, group, limitOption, parse, positionals } from "./command.ts";

export const QUARANTINE_USAGE = `Usage: portcullis quarantine list [--sender ADDRESS] [--recipient ADDRESS] [--limit N] [--json]
       portcullis quarantine show ID [--json]
       portcullis quarantine release ID [--json]
       portcullis quarantine delete ID [--yes] [--json]
       portcullis quarantine report ID --ham|--spam [--json]

Messages the content filter held back instead of delivering.
  list      quarantined messages, newest first, all pages (--limit N stops after N)
  show      one message's metadata and a preview of its text
  release   deliver the message to its recipients after all
  delete    delete it for good (asks first at a terminal, unless --yes)
  report    tell the content filter it was ham (wrongly held) or spam (rightly held)
Common options: --profile NAME, --json.`;

interface Quarantined {
  id: string | number;
  receivedAt?: string;
  from?: string;
  to?: string[] | string;
  subject?: string | null;
  scl?: number | null;
  size?: number;
  reason?: string;
  preview?: string;
  [field: string]: unknown;
}

const recipients = (to: Quarantined["to"]): string => (Array.isArray(to) ? to.join(", ") : (to ?? ""));
const itemPath = (id: string, action = ""): string => `/quarantine/${encodeURIComponent(id)}${action}`;

async function list(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { sender: { type: "string" }, recipient: { type: "string" }, limit: { type: "string" } });
  positionals(rest, []);
  const max = limitOption(values.limit);
  const client = await connect(io, values.profile);
  const json = new JsonListWriter(io);
  const table = new TableWriter<Quarantined>(io, [
    { header: "ID", value: (m) => m.id },
    { header: "RECEIVED", value: (m) => when(m.receivedAt) },
    { header: "FROM", value: (m) => m.from, max: 40, shrink: true },
    { header: "TO", value: (m) => recipients(m.to), max: 40, shrink: true },
    { header: "SUBJECT", value: (m) => m.subject, max: 50, shrink: true },
    { header: "SCL", value: (m) => m.scl, align: "right" },
  ]);
  for await (const page of client.pages<Quarantined>("/quarantine", { sender: values.sender, recipient: values.recipient }, max))
    (values.json ? json : table).add(page);
  if (values.json) json.end();
  else table.end("The quarantine is empty.");
  return API_EXIT.ok;
}

/** Known fields first, in a sensible order; whatever else the API sends follows as it is. */
const SHOWN_FIRST = ["id", "receivedAt", "from", "to", "subject", "scl", "size", "reason", "messageId", "deliveryId"];

async function show(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  const [id] = positionals(rest, ["ID"]);
  const client = await connect(io, values.profile);
  const answer = await client.get<Quarantined>(itemPath(id!));
  if (values.json) {
    io.out(JSON.stringify(answer));
    return API_EXIT.ok;
  }
  // Tolerant of either shape: the metadata itself, or wrapped as {"item": …}.
  const m: Quarantined = typeof answer.item === "object" && answer.item !== null ? (answer.item as Quarantined) : answer;
  const fields: [string, unknown][] = SHOWN_FIRST.filter((k) => m[k] !== undefined).map((k) => [
    k,
    k === "receivedAt" ? when(m[k]) : k === "to" ? recipients(m.to) : m[k],
  ]);
  for (const [k, v] of Object.entries(m)) if (!SHOWN_FIRST.includes(k) && k !== "preview") fields.push([k, v]);
  printRecord(io, fields);
  if (typeof m.preview === "string") {
    io.out("");
    // Message text from the internet: every line made safe for the terminal.
    for (const line of m.preview.split(/\r?\n/)) io.out(`  ${line === "" ? "" : clean(line)}`);
  }
  return API_EXIT.ok;
}

async function release(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  const [id] = positionals(rest, ["ID"]);
  const client = await connect(io, values.profile);
  const { body } = await client.request("POST", itemPath(id!, "/release"));
  if (values.json) io.out(JSON.stringify(body ?? { released: id }));
  else io.out(`Released ${id}: it is on its way to its recipients.`);
  return API_EXIT.ok;
}

async function remove(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { yes: { type: "boolean", default: false } });
  const [id] = positionals(rest, ["ID"]);
  const client = await connect(io, values.profile);
  if (!(await confirm(io, `Delete quarantined message ${id} for good?`, values.yes || values.json))) {
    io.err("Nothing was changed.");
    return API_EXIT.ok;
  }
  const { body } = await client.request("DELETE", itemPath(id!));
  if (values.json) io.out(JSON.stringify(body ?? { deleted: id }));
  else io.out(`Deleted ${id} from the quarantine.`);
  return API_EXIT.ok;
}

async function report(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { ham: { type: "boolean", default: false }, spam: { type: "boolean", default: false } });
  const [id] = positionals(rest, ["ID"]);
  if (values.ham === values.spam) throw new UsageError("report needs exactly one of --ham (wrongly held) or --spam (rightly held)");
  const verdict = values.ham ? "ham" : "spam";
  const client = await connect(io, values.profile);
  const { body } = await client.request("POST", itemPath(id!, "/report"), { json: { verdict } });
  if (values.json) io.out(JSON.stringify(body ?? { id, verdict }));
  else io.out(`Reported ${id} as ${verdict}.`);
  return API_EXIT.ok;
}

export const quarantine = group("quarantine", { list, show, release, delete: remove, report });
