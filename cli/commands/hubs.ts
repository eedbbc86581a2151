import { API_EXIT } from "../api.ts";
import { ago } from "../format.ts";
import type { Io } from "../output.ts";
import { printTable, type Style } from "../table.ts";
import { connect, parse, positionals } from "./command.ts";

export const HUBS_USAGE = `Usage: portcullis hubs [--json]

The upstream hubs the edges deliver to (the "hubs" policy, or the default), each with its
transport, priority and weight, overall health, and every edge's view of it: circuit breaker
state (closed, open, half-open), consecutive failures, last success and last failure.
Edges that did not answer are listed after the table.
Common options: --profile NAME, --json.`;

interface EdgeView {
  edge: string;
  state?: string;
  failures?: number;
  lastOkAt?: string | null;
  lastFailureAt?: string | null;
}

interface Hub {
  id: string;
  transport?: string;
  binding?: string;
  url?: string;
  address?: string;
  priority?: number;
  weight?: number;
  health?: string;
  edges?: EdgeView[];
}

interface HubsAnswer {
  source?: string;
  items?: Hub[];
  unreachable?: { edge: string; error: string }[];
}

export function healthStyle(state: string | undefined): Style | undefined {
  if (state === "healthy" || state === "closed") return "green";
  if (state === "degraded" || state === "half-open" || state === "unknown") return "yellow";
  if (state === "down" || state === "open") return "red";
  return undefined;
}

export async function hubs(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  positionals(rest, []);
  const client = await connect(io, values.profile);
  const answer = await client.get<HubsAnswer>("/hubs");
  if (values.json) {
    io.out(JSON.stringify(answer));
    return API_EXIT.ok;
  }
  const items = answer.items ?? [];
  printTable(
    io,
    [
      { header: "HUB", value: (h) => h.id },
      { header: "TRANSPORT", value: (h) => h.transport },
      { header: "TARGET", value: (h) => h.binding ?? h.url ?? h.address, shrink: true },
      { header: "PRIORITY", value: (h) => h.priority, align: "right" },
      { header: "WEIGHT", value: (h) => h.weight, align: "right" },
      { header: "HEALTH", value: (h) => h.health, style: (h) => healthStyle(h.health) },
    ],
    items,
    "No upstream hubs configured.",
  );
  const breakers = items.flatMap((h) => (h.edges ?? []).map((e) => ({ hub: h.id, ...e })));
  if (breakers.length > 0) {
    io.out("");
    printTable(
      io,
      [
        { header: "HUB", value: (b) => b.hub },
        { header: "EDGE", value: (b) => b.edge },
        { header: "BREAKER", value: (b) => b.state, style: (b) => healthStyle(b.state) },
        { header: "FAILURES", value: (b) => b.failures, align: "right" },
        { header: "LAST OK", value: (b) => ago(b.lastOkAt) },
        { header: "LAST FAILURE", value: (b) => ago(b.lastFailureAt) },
      ],
      breakers,
      "",
    );
  } else if (items.length > 0) io.out("\nNo edge has reported on these hubs yet (health is known once mail or a probe has gone to them).");
  if (answer.source === "default") io.out('\nThis is the default hub list; set the "hubs" policy to change it.');
  for (const u of answer.unreachable ?? []) io.err(`edge ${u.edge} did not answer: ${u.error}`);
  return API_EXIT.ok;
}
