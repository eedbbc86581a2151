import { API_EXIT } from "../api.ts";
import { ago, bytes, count } from "../format.ts";
import type { Io } from "../output.ts";
import { printTable } from "../table.ts";
import { confirm, connect, group, parse, positionals } from "./command.ts";

export const BACKUP_USAGE = `Usage: portcullis backup list [--hub HUB_ID] [--json]
       portcullis backup create [--json]
       portcullis backup restore KEY [--force] [--yes] [--json]
       portcullis backup standby [--run] [--json]

  list      directory exports in the BACKUP bucket, newest first (every hub's, or one hub's)
  create    export the directory now (the cron does it every minute when something changed);
            answers the newest export when nothing changed
  restore   replace the directory with an export's (edges see nothing until all of it is in;
            a failed restore is started over by the next): into an empty hub, or with --force
            on a standby; asks first at a terminal unless --yes
  standby   a standby's view: its primary's health, the export it applied, mail held for the
            primary; --run runs a standby round now
See docs/operations.md#standby-hub. Common options: --profile NAME, --json.`;

interface Listing {
  key: string;
  hubId: string;
  root: string | null;
  size: number;
  createdAt: string;
  counts: { addresses?: number; domains?: number; edges?: number } | null;
}

/** Enough of a root hash to tell versions apart at a glance (the full one is in --json). */
const short = (hash: string | null | undefined): string => (typeof hash === "string" ? hash.slice(0, 12) : "-");

async function list(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { hub: { type: "string" } });
  positionals(rest, []);
  const client = await connect(io, values.profile);
  const { body } = await client.request<{ hubId?: string; role?: string; retention?: { days: number; keep: number }; exports?: Listing[] }>("GET", "/backups", {
    query: { hub: values.hub },
  });
  if (values.json) {
    io.out(JSON.stringify(body));
    return API_EXIT.ok;
  }
  io.out(`Hub ${body.hubId ?? "-"} (${body.role ?? "-"}); retention ${body.retention?.days ?? "-"} days, newest ${body.retention?.keep ?? "-"} always kept`);
  printTable(
    io,
    [
      { header: "KEY", value: (e) => e.key, shrink: true },
      { header: "HUB", value: (e) => e.hubId },
      { header: "ROOT", value: (e) => short(e.root) },
      { header: "ADDRESSES", value: (e) => count(e.counts?.addresses), align: "right" },
      { header: "SIZE", value: (e) => bytes(e.size), align: "right" },
      { header: "TAKEN", value: (e) => ago(e.createdAt) },
    ],
    body.exports ?? [],
    'No exports yet. Run "portcullis backup create" on the primary hub.',
  );
  return API_EXIT.ok;
}

async function create(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  positionals(rest, []);
  const client = await connect(io, values.profile);
  const { body } = await client.request<{ written: boolean; key: string; root: string; counts: Record<string, number> }>("POST", "/backups");
  if (values.json) {
    io.out(JSON.stringify(body));
    return API_EXIT.ok;
  }
  io.out(`${body.written ? "Exported" : "Unchanged since"} ${body.key}: root ${short(body.root)}, ${count(body.counts.addresses)} addresses`);
  return API_EXIT.ok;
}

async function restore(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { force: { type: "boolean" }, yes: { type: "boolean" } });
  const [key] = positionals(rest, ["KEY"]);
  if (!(await confirm(io, `Replace the hub's directory with ${key}?`, values.yes === true || values.json === true))) {
    io.err("Not restored.");
    return API_EXIT.ok;
  }
  const client = await connect(io, values.profile);
  const { body } = await client.request<{ key: string; hubId: string; root: string; verified: boolean; counts: Record<string, number> }>(
    "POST",
    "/backups/restore",
    {
      json: { key, ...(values.force === true ? { force: true } : {}) },
    },
  );
  if (values.json) {
    io.out(JSON.stringify(body));
    return API_EXIT.ok;
  }
  io.out(
    `Restored ${body.key} (from ${body.hubId}): ${count(body.counts.domains)} domains, ${count(body.counts.addresses)} addresses, ${count(body.counts.edges)} edges; root ${short(body.root)} ${body.verified ? "verified" : "NOT verified"}`,
  );
  return API_EXIT.ok;
}

async function standby(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { run: { type: "boolean" } });
  positionals(rest, []);
  const client = await connect(io, values.profile);
  if (values.run === true) {
    const { body } = await client.request<{
      primary: { up: boolean; hubId?: string; error?: string };
      restored: { key: string } | null;
      handBack: { handedBack: number; duplicates: number; remaining: number } | null;
      sync: { edges: { id: string; status: string }[] } | null;
    }>("POST", "/backups/standby/run");
    if (values.json) {
      io.out(JSON.stringify(body));
      return API_EXIT.ok;
    }
    io.out(body.primary.up ? `Primary ${body.primary.hubId ?? "-"} is up.` : `Primary is down: ${body.primary.error ?? "no answer"}.`);
    if (body.restored !== null) io.out(`Applied ${body.restored.key}.`);
    if (body.handBack !== null)
      io.out(`Handed back ${body.handBack.handedBack} (${body.handBack.duplicates} already there); ${body.handBack.remaining} still held.`);
    if (body.sync !== null) io.out(`Synced the edges: ${body.sync.edges.map((e) => `${e.id} ${e.status}`).join(", ") || "none registered"}.`);
    return API_EXIT.ok;
  }
  const { body } = await client.request<{
    hubId: string;
    role: string;
    primary: { up?: boolean; hubId?: string; error?: string; checkedAt?: string } | null;
    applied: { key?: string; appliedAt?: string } | null;
    held: number;
    handedBack: number;
    released: number;
  }>("GET", "/backups/standby");
  if (values.json) {
    io.out(JSON.stringify(body));
    return API_EXIT.ok;
  }
  io.out(`Hub ${body.hubId}: ${body.role}`);
  if (body.primary !== null) {
    io.out(
      `  primary: ${body.primary.up === true ? `up (${body.primary.hubId ?? "-"})` : `down (${body.primary.error ?? "no answer"})`}, checked ${ago(body.primary.checkedAt)}`,
    );
  }
  io.out(`  applied: ${body.applied?.key ?? "none"}${body.applied?.appliedAt ? `, ${ago(body.applied.appliedAt)}` : ""}`);
  io.out(`  mail: ${body.held} held for the primary, ${body.handedBack} handed back, ${body.released} released here`);
  return API_EXIT.ok;
}

export const backup = group("backup", { list, create, restore, standby });
