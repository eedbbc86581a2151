import { API_EXIT } from "../api.ts";
import { ago, bytes, count } from "../format.ts";
import type { Io } from "../output.ts";
import { printTable } from "../table.ts";
import { connect, group, parse, positionals } from "./command.ts";

export const EDGES_USAGE = `Usage: portcullis edges [--json]

Every edge the hub syncs, asked live: directory version, root hash, whether it holds the hub's
current root hash (converged), its last successful sync and its last error.
Common options: --profile NAME, --json.`;

export const SYNC_USAGE = `Usage: portcullis sync status [--json]
       portcullis sync now [--json]

  status   how many edges hold the hub's current directory (converged N/M), and why the others do not
  now      run an EdgeSync round now and show each edge's outcome (changes reach the edges by
           themselves within seconds; this is for checking, or after an edge was down)
Common options: --profile NAME, --json.`;

interface Edge {
  id: string;
  transport?: string;
  reachable?: boolean;
  version?: number | null;
  root?: string | null;
  converged?: boolean;
  lastSuccessAt?: string | null;
  lastError?: string | null;
  leaseHolder?: string | null;
}

interface EdgesAnswer {
  hubId?: string;
  root?: string | null;
  recipients?: number;
  items?: Edge[];
}

/** Enough of a root hash to tell versions apart at a glance (the full one is in --json). */
const short = (hash: string | null | undefined): string => (typeof hash === "string" ? hash.slice(0, 12) : "-");

async function edgesAnswer(io: Io, profile: string | undefined): Promise<EdgesAnswer> {
  return (await connect(io, profile)).get<EdgesAnswer>("/edges");
}

export async function edges(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  positionals(rest, []);
  const answer = await edgesAnswer(io, values.profile);
  if (values.json) {
    io.out(JSON.stringify(answer));
    return API_EXIT.ok;
  }
  io.out(`Hub ${answer.hubId ?? "-"}: root ${short(answer.root)}, ${count(answer.recipients)} recipients`);
  printTable(
    io,
    [
      { header: "EDGE", value: (e) => e.id },
      { header: "TRANSPORT", value: (e) => e.transport },
      { header: "VERSION", value: (e) => e.version, align: "right" },
      { header: "ROOT", value: (e) => short(e.root) },
      { header: "CONVERGED", value: (e) => (e.converged === true ? "yes" : "no"), style: (e) => (e.converged === true ? "green" : "red") },
      { header: "LAST SYNC", value: (e) => ago(e.lastSuccessAt) },
      { header: "LAST ERROR", value: (e) => e.lastError, shrink: true },
    ],
    answer.items ?? [],
    "No edges registered. Register one with PUT /api/v1/edges/{id} (see README).",
  );
  return API_EXIT.ok;
}

async function status(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  positionals(rest, []);
  const answer = await edgesAnswer(io, values.profile);
  const items = answer.items ?? [];
  const converged = items.filter((e) => e.converged === true).length;
  if (values.json) {
    io.out(
      JSON.stringify({
        hubId: answer.hubId ?? null,
        root: answer.root ?? null,
        recipients: answer.recipients ?? null,
        converged,
        total: items.length,
        edges: items.map((e) => ({
          id: e.id,
          converged: e.converged === true,
          reachable: e.reachable ?? null,
          version: e.version ?? null,
          root: e.root ?? null,
          lastError: e.lastError ?? null,
        })),
      }),
    );
    return API_EXIT.ok;
  }
  io.out(`converged ${converged}/${items.length} edges on root ${short(answer.root)} (hub ${answer.hubId ?? "-"}, ${count(answer.recipients)} recipients)`);
  for (const e of items.filter((x) => x.converged !== true)) {
    const why = e.reachable === false ? "not reachable" : `at ${short(e.root)}, version ${e.version ?? "-"}`;
    io.out(`  ${e.id}: ${why}${e.lastError ? `; last error: ${e.lastError}` : ""}${e.leaseHolder ? `; lease held by ${e.leaseHolder}` : ""}`);
  }
  return API_EXIT.ok;
}

interface SyncEdgeResult {
  id?: string;
  edgeId?: string;
  status?: string;
  version?: number;
  blobsWritten?: number;
  bytesWritten?: number;
  error?: string;
  holder?: string;
}

async function now(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  positionals(rest, []);
  const client = await connect(io, values.profile);
  const { body } = await client.request<{ hubId?: string; root?: string | null; edges?: SyncEdgeResult[] }>("POST", "/sync");
  if (values.json) {
    io.out(JSON.stringify(body));
    return API_EXIT.ok;
  }
  io.out(`Sync round by hub ${body.hubId ?? "-"}: root ${short(body.root)}`);
  printTable(
    io,
    [
      { header: "EDGE", value: (e) => e.id ?? e.edgeId },
      { header: "OUTCOME", value: (e) => e.status, style: (e) => (e.status === "failed" ? "red" : e.status === "busy" ? "yellow" : "green") },
      { header: "VERSION", value: (e) => e.version, align: "right" },
      { header: "BLOBS", value: (e) => e.blobsWritten, align: "right" },
      { header: "WRITTEN", value: (e) => (e.bytesWritten === undefined ? undefined : bytes(e.bytesWritten)), align: "right" },
      { header: "ERROR", value: (e) => e.error ?? (e.holder ? `lease held by ${e.holder}` : undefined), shrink: true },
    ],
    body.edges ?? [],
    "No edges to sync.",
  );
  return API_EXIT.ok;
}

export const sync = group("sync", { status, now });
