import { writeFile } from "node:fs/promises";
import { API_EXIT } from "../api.ts";
import { count, JsonListWriter, when } from "../format.ts";
import type { Io } from "../output.ts";
import { printRecord, TableWriter } from "../table.ts";
import { confirm, connect, group, limitOption, parse, positionals } from "./command.ts";
import { IMPORT_CHUNK_ROWS } from "./import-chunks.ts";
import { importRecipients } from "./recipients-import.ts";

export const RECIPIENTS_USAGE = `Usage: portcullis recipients list [--domain DOMAIN] [--limit N] [--json]
       portcullis recipients show ADDRESS [--json]
       portcullis recipients import FILE.csv|FILE.json [--format csv|json] [--json]
       portcullis recipients export [--domain DOMAIN] [--out FILE.csv]
       portcullis recipients remove ADDRESS [--yes] [--json]

The recipients the edges accept mail for.
  list     recipients in address order, all pages (--limit N stops after N)
  show     the recipient an address (primary or alias) delivers to
  import   add or update recipients from a file: CSV with a header line
           (address,aliases,rejectInternet,sclOverride; aliases separated by ";") or a JSON array of
           {"address", "aliases"?, "rejectInternet"?, "sclOverride"?}. Sent in chunks of up to
           ${IMPORT_CHUNK_ROWS.toLocaleString("en-US")} rows (each with the header), with a progress bar on stderr (plain lines
           when stderr is not a terminal, none with --json), then a summary: created, updated,
           unchanged, errors and the first rows refused. Exit 2 if any row was refused.
           Importing the same file again is safe.
  export   every recipient (or one domain's) as CSV in the import format, to stdout or --out FILE;
           importing the file again changes nothing
  remove   delete a recipient by its primary address, aliases included
Common options: --profile NAME, --json.`;

interface Recipient {
  address: string;
  domain?: string;
  aliases?: string[];
  rejectInternet?: boolean;
  sclOverride?: number | null;
  createdAt?: string;
  updatedAt?: string | null;
}

async function list(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { domain: { type: "string" }, limit: { type: "string" } });
  positionals(rest, []);
  const max = limitOption(values.limit);
  const client = await connect(io, values.profile);
  const json = new JsonListWriter(io);
  const table = new TableWriter<Recipient>(io, [
    { header: "ADDRESS", value: (r) => r.address, shrink: true },
    { header: "ALIASES", value: (r) => (r.aliases ?? []).join(", "), max: 60, shrink: true },
    { header: "INTERNAL-ONLY", value: (r) => (r.rejectInternet === true ? "yes" : "no") },
    { header: "SCL", value: (r) => r.sclOverride, align: "right" },
    { header: "UPDATED", value: (r) => when(r.updatedAt ?? r.createdAt) },
  ]);
  for await (const page of client.pages<Recipient>("/recipients", { domain: values.domain }, max)) (values.json ? json : table).add(page);
  if (values.json) json.end();
  else {
    table.end(values.domain === undefined ? "No recipients." : `No recipients in ${values.domain}.`);
    if (table.rows > 0) io.err(`${count(table.rows)} recipients`);
  }
  return API_EXIT.ok;
}

async function show(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  const [address] = positionals(rest, ["ADDRESS"]);
  const client = await connect(io, values.profile);
  const r = await client.get<Recipient>(`/recipients/${encodeURIComponent(address!)}`);
  if (values.json) io.out(JSON.stringify(r));
  else
    printRecord(io, [
      ["address", r.address],
      ["domain", r.domain],
      ["aliases", (r.aliases ?? []).join(", ")],
      ["internal only", r.rejectInternet === true ? "yes (mail from the internet is refused)" : "no"],
      ["SCL override", r.sclOverride ?? "none"],
      ["created", when(r.createdAt)],
      ["updated", when(r.updatedAt)],
    ]);
  return API_EXIT.ok;
}

async function importFile(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { format: { type: "string" } });
  const [file] = positionals(rest, ["FILE"]);
  const client = await connect(io, values.profile);
  return importRecipients(client, io, file!, { json: values.json, format: values.format });
}

async function remove(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { yes: { type: "boolean", default: false } });
  const [address] = positionals(rest, ["ADDRESS"]);
  const client = await connect(io, values.profile);
  if (!(await confirm(io, `Delete recipient ${address} and its aliases?`, values.yes || values.json))) {
    io.err("Nothing was changed.");
    return API_EXIT.ok;
  }
  await client.request("DELETE", `/recipients/${encodeURIComponent(address!)}`);
  if (values.json) io.out(JSON.stringify({ removed: address }));
  else io.out(`Removed ${address}. The edges refuse its mail within seconds.`);
  return API_EXIT.ok;
}

async function exportCsv(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { domain: { type: "string" }, out: { type: "string" } });
  positionals(rest, []);
  const client = await connect(io, values.profile);
  const csv = await client.text("/recipients/export", { domain: values.domain });
  const rows = Math.max(0, csv.split("\r\n").filter((l) => l !== "").length - 1);
  if (values.out === undefined) io.out(csv.replace(/\r\n$/, ""));
  else {
    await writeFile(values.out, csv, { mode: 0o600 });
    io.err(`${count(rows)} recipients written to ${values.out}`);
  }
  return API_EXIT.ok;
}

export const recipients = group("recipients", { list, show, import: importFile, export: exportCsv, remove });
