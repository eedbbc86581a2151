import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { memoryDirectory } from "../shared/directory/memory.ts";
import { DohResolver } from "../shared/dns/doh.ts";
import type { DirectoryReader } from "../shared/directory/reader.ts";
import type { RecipientRecord } from "../shared/directory/snapshot.ts";
import { runPipeline } from "../shared/hygiene/pipeline.ts";
import type { PipelineResult } from "../shared/hygiene/types.ts";
import { ENVELOPE_OPTIONS, EXIT, type Io, UsageError } from "./output.ts";

export const SCAN_USAGE = `Usage: portcullis scan FILE.eml... [--from ADDRESS] [--to ADDRESS] [--policy FILE] [--json]

Runs the edge's hygiene pipeline on each message, offline, and prints its verdict.
  --from     envelope sender (default: the address in the message's From: header)
  --to       envelope recipient; without it recipient validation is skipped
  --policy   JSON file with the directory to check against:
             {"domains": ["example.com"], "recipients": ["alice@example.com",
              {"address": "ops@example.com", "aliases": ["noc@example.com"], "rejectInternet": true}]}
             without it no directory is loaded and recipient validation is skipped
  --dns      look things up over DNS-over-HTTPS (SPF, DKIM, DMARC, DNS block lists); offline
             without it: authentication reports "none" and block lists are skipped
  --json     one JSON object per message: {"file","action","scl","smtp","agents":[…]}
Exit code 0 when every message got a verdict, whatever the verdicts; 1 if a file could not be read.`;

/** The JSON line `scan --json` prints for one message (DESIGN §3). */
export interface ScanReport {
  file: string;
  action: PipelineResult["action"];
  scl: number;
  smtp: string;
  agents: PipelineResult["agents"];
}

/** The CLI's policy file: the directory (and policy objects) to check against. */
interface PolicyFile {
  domains?: unknown;
  recipients?: unknown;
  policies?: unknown;
}

function isRecipient(v: unknown): v is string | RecipientRecord {
  if (typeof v === "string") return true;
  if (typeof v !== "object" || v === null) return false;
  const r = v as RecipientRecord;
  return (
    typeof r.address === "string" &&
    (r.aliases === undefined || (Array.isArray(r.aliases) && r.aliases.every((a) => typeof a === "string"))) &&
    (r.rejectInternet === undefined || typeof r.rejectInternet === "boolean") &&
    (r.sclOverride === undefined || r.sclOverride === null || (Number.isInteger(r.sclOverride) && r.sclOverride >= 0 && r.sclOverride <= 9))
  );
}

async function loadPolicy(file: string): Promise<DirectoryReader> {
  let policy: PolicyFile;
  try {
    policy = JSON.parse(await readFile(file, "utf8")) as PolicyFile;
  } catch (err) {
    throw new UsageError(`--policy ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const domains = policy.domains ?? [];
  const recipients = policy.recipients ?? [];
  const policies = policy.policies ?? {};
  if (!Array.isArray(domains) || domains.some((d) => typeof d !== "string")) throw new UsageError(`--policy ${file}: "domains" must be an array of strings`);
  if (!Array.isArray(recipients) || !recipients.every(isRecipient)) {
    throw new UsageError(`--policy ${file}: "recipients" must be an array of addresses or {"address", "aliases"?, "rejectInternet"?, "sclOverride"?} objects`);
  }
  if (typeof policies !== "object" || policies === null || Array.isArray(policies)) throw new UsageError(`--policy ${file}: "policies" must be an object`);
  return memoryDirectory({ domains: domains as string[], recipients, policies: policies as Record<string, unknown> });
}

/** The address in the first From: header, found without a full parse. */
export function headerFrom(raw: Uint8Array): string {
  const head = new TextDecoder("latin1").decode(raw.subarray(0, Math.min(raw.byteLength, 64 * 1024)));
  const end = head.search(/\r?\n\r?\n/);
  const match = /^from:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(end === -1 ? head : head.slice(0, end));
  if (match === null) return "";
  const value = match[1]!.replace(/\r?\n[ \t]+/g, " ");
  const angle = /<([^<>\s]+@[^<>\s]+)>/.exec(value);
  if (angle !== null) return angle[1]!;
  const bare = /([^\s<>(),;:"]+@[^\s<>(),;:"]+)/.exec(value);
  return bare === null ? "" : bare[1]!;
}

export function formatHuman(report: ScanReport): string {
  const agents = report.agents.map((a) => `${a.agent} ${a.result}${a.result === "pass" ? "" : ` (${a.reason})`}`).join(" · ");
  return `${report.file}: ${report.action.toUpperCase()} scl=${report.scl} ${report.smtp}\n  ${agents}`;
}

export async function scan(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...ENVELOPE_OPTIONS, policy: { type: "string" }, dns: { type: "boolean", default: false } },
  });
  if (positionals.length === 0) throw new UsageError("scan needs at least one message file");
  const directory = values.policy === undefined ? null : await loadPolicy(values.policy);
  // Offline unless asked: SPF/DKIM/DMARC report "none" and DNS block lists are skipped.
  const dns = values.dns ? new DohResolver() : null;

  let exit: number = EXIT.ok;
  for (const file of positionals) {
    let raw: Uint8Array;
    try {
      raw = new Uint8Array(await readFile(file));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (values.json) io.out(JSON.stringify({ file, error: message }));
      else io.err(`${file}: cannot read: ${message}`);
      exit = EXIT.failed;
      continue;
    }
    const envelope = { from: values.from ?? headerFrom(raw), to: values.to === undefined ? [] : [values.to] };
    const result = await runPipeline({ envelope, raw }, { directory, dns, now: Date.now });
    const report: ScanReport = { file, action: result.action, scl: result.scl, smtp: result.smtp, agents: result.agents };
    io.out(values.json ? JSON.stringify(report) : formatHuman(report));
  }
  return exit;
}
