import { API_EXIT } from "../api.ts";
import { bytes, JsonListWriter, when } from "../format.ts";
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
  report    tell the content filter it was ham (wrongly held) or spam (rightly held); the hub
            retrains the content model and syncs it to the edges
Common options: --profile NAME, --json.`;

interface AgentOutcome {
  agent?: string;
  result?: string;
  reason?: string;
}

/** The hub's text-only preview: nothing in it is rendered or fetched. */
interface Preview {
  from?: string | null;
  to?: string[];
  cc?: string[];
  subject?: string | null;
  date?: string | null;
  problem?: { code?: string; message?: string } | null;
  text?: { content?: string; source?: string; truncated?: boolean };
  links?: { href?: string; text?: string }[];
  attachments?: { filename?: string | null; contentType?: string; size?: number }[];
}

interface Quarantined {
  id: string | number;
  receivedAt?: string;
  from?: string;
  to?: string[] | string;
  subject?: string | null;
  scl?: number | null;
  size?: number;
  reasons?: AgentOutcome[];
  preview?: Preview | string | null;
  previewError?: string | null;
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

/** Shown first, in this order; other fields the API sends follow as they are. */
const SHOWN_FIRST = ["id", "receivedAt", "from", "to", "subject", "scl", "size", "messageId", "deliveryId", "edgeId", "reasons"];
/** Shown their own way (the preview) or not worth a line (every agent's result is in --json). */
const NOT_LISTED = new Set(["preview", "previewError", "agents"]);

function fieldText(m: Quarantined, key: string): unknown {
  if (key === "receivedAt" || key === "storedAt") return when(m[key]);
  if (key === "to") return recipients(m.to);
  if (key === "size") return bytes(m.size);
  if (key === "reasons") return (m.reasons ?? []).map((r) => `${r.agent ?? "?"}: ${r.reason ?? r.result ?? ""}`).join("; ");
  return m[key];
}

/** Message text from the internet, indented, every line made safe for the terminal. */
function printText(io: Io, text: string): void {
  for (const line of text.split(/\r?\n/)) io.out(line === "" ? "" : `  ${clean(line)}`);
}

function printPreview(io: Io, preview: Preview | string | null | undefined, error: unknown): void {
  if (typeof error === "string") io.out(`\nNo preview: ${clean(error)}`);
  if (preview === null || preview === undefined) return;
  io.out("");
  if (typeof preview === "string") return printText(io, preview);
  if (preview.problem) io.out(`The message could not be parsed: ${clean(preview.problem.message ?? preview.problem.code)}`);
  printRecord(io, [
    ["From:", preview.from],
    ["To:", (preview.to ?? []).join(", ")],
    ...(preview.cc !== undefined && preview.cc.length > 0 ? [["Cc:", preview.cc.join(", ")] as [string, unknown]] : []),
    ["Subject:", preview.subject],
    ["Date:", preview.date],
  ]);
  const text = preview.text;
  if (text?.content !== undefined && text.content !== "") {
    io.out(`\n--- text (${text.source ?? "?"}${text.truncated === true ? ", cut short" : ""}) ---`);
    printText(io, text.content);
  }
  for (const a of preview.attachments ?? []) io.out(`attachment: ${clean(a.filename ?? "(no name)")} (${clean(a.contentType)}, ${bytes(a.size)})`);
  if ((preview.links ?? []).length > 0) io.out(`links: ${(preview.links ?? []).map((l) => clean(l.href)).join(" ")}`);
}

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
  const fields: [string, unknown][] = SHOWN_FIRST.filter((k) => m[k] !== undefined).map((k) => [k, fieldText(m, k)]);
  for (const k of Object.keys(m)) if (!SHOWN_FIRST.includes(k) && !NOT_LISTED.has(k)) fields.push([k, fieldText(m, k)]);
  printRecord(io, fields);
  printPreview(io, m.preview, m.previewError);
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
