import { API_EXIT } from "../api.ts";
import { ago, pointInTime, when } from "../format.ts";
import { type Io, UsageError } from "../output.ts";
import { printTable } from "../table.ts";
import { confirm, connect, group, parse, positionals } from "./command.ts";

export const TOKENS_USAGE = `Usage: portcullis tokens list [--json]
       portcullis tokens create NAME --role read-only|operator|admin [--expires 90d|ISO] [--json]
       portcullis tokens revoke ID [--yes] [--json]

The admin API's tokens.
  list     every token: id, name, role, state, when it was created, expires and was last used
           (never the token itself)
  create   a new token for a person or a script. The token is printed once, alone on stdout
           (TOKEN=$(portcullis tokens create ci --role read-only)); the hub keeps only its hash.
           Roles: read-only (look), operator (+ queue, quarantine, sync), admin (+ configuration).
           --expires: when it stops working, an ISO date/time or a duration from now (30d, 12h)
  revoke   stop a token working (asks first at a terminal, unless --yes)
Common options: --profile NAME, --json.`;

const ROLES = ["read-only", "operator", "admin"];

interface TokenInfo {
  id: string | number;
  name?: string;
  role?: string;
  bootstrap?: boolean;
  createdAt?: string;
  lastUsedAt?: string | null;
  expiresAt?: string | null;
  revoked?: boolean;
  token?: string;
}

function tokenState(t: TokenInfo): string {
  if (t.revoked === true) return "revoked";
  if (typeof t.expiresAt === "string" && Date.parse(t.expiresAt) <= Date.now()) return "expired";
  return t.bootstrap === true ? "active (ADMIN_TOKEN)" : "active";
}

async function list(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  positionals(rest, []);
  const client = await connect(io, values.profile);
  const items: TokenInfo[] = [];
  for await (const page of client.pages<TokenInfo>("/tokens")) items.push(...page);
  if (values.json) io.out(JSON.stringify({ items }));
  else
    printTable(
      io,
      [
        { header: "ID", value: (t) => t.id },
        { header: "NAME", value: (t) => t.name, shrink: true },
        { header: "ROLE", value: (t) => t.role },
        { header: "STATE", value: tokenState, style: (t) => (tokenState(t).startsWith("active") ? undefined : "dim") },
        { header: "CREATED", value: (t) => when(t.createdAt) },
        { header: "EXPIRES", value: (t) => when(t.expiresAt) },
        { header: "LAST USED", value: (t) => ago(t.lastUsedAt) },
      ],
      items,
      "No tokens.",
    );
  return API_EXIT.ok;
}

async function create(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { role: { type: "string" }, expires: { type: "string" } });
  const [name] = positionals(rest, ["NAME"]);
  if (values.role === undefined || !ROLES.includes(values.role)) throw new UsageError(`create needs --role ${ROLES.join("|")}`);
  const expiresAt = values.expires === undefined ? undefined : pointInTime(values.expires, "--expires", Date.now(), "after");
  const client = await connect(io, values.profile);
  const { body } = await client.request<TokenInfo>("POST", "/tokens", { json: { name, role: values.role, ...(expiresAt === undefined ? {} : { expiresAt }) } });
  if (values.json) {
    io.out(JSON.stringify(body));
    return API_EXIT.ok;
  }
  if (typeof body?.token !== "string") {
    io.err("The hub created the token but did not return it; revoke it and try again.");
    return API_EXIT.refused;
  }
  // The token alone on stdout, so a script can capture it; the words around it go to stderr.
  io.err(`Created token ${body.id} "${body.name ?? name}" (role ${body.role ?? values.role}). It is shown once; store it now:`);
  io.out(body.token);
  return API_EXIT.ok;
}

async function revoke(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { yes: { type: "boolean", default: false } });
  const [id] = positionals(rest, ["ID"]);
  const client = await connect(io, values.profile);
  if (!(await confirm(io, `Revoke token ${id}? Whatever uses it stops working.`, values.yes || values.json))) {
    io.err("Nothing was changed.");
    return API_EXIT.ok;
  }
  await client.request("DELETE", `/tokens/${encodeURIComponent(id!)}`);
  if (values.json) io.out(JSON.stringify({ revoked: id }));
  else io.out(`Revoked token ${id}.`);
  return API_EXIT.ok;
}

export const tokens = group("tokens", { list, create, revoke });
