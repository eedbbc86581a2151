import { API_EXIT } from "../api.ts";
import { count, JsonListWriter, when } from "../format.ts";
import { type Io, UsageError } from "../output.ts";
import { TableWriter } from "../table.ts";
import { confirm, connect, group, parse, positionals } from "./command.ts";

export const DOMAINS_USAGE = `Usage: portcullis domains list [--json]
       portcullis domains add DOMAIN [--route-webhook URL --secret SECRET | --route-forward ADDRESS | --route-mailbox] [--json]
       portcullis domains remove DOMAIN [--yes] [--json]

The accepted domains (mail for any other domain is refused at the edge).
  list     every accepted domain with its recipient count and onward route
  add      accept mail for a domain (or change its route); without a route option a new domain is
           stored in the hub's mailbox and an existing one keeps its route
             --route-webhook URL   POST each message to URL, signed with --secret
                                   (omit --secret to keep the domain's current one)
             --route-forward ADDR  forward each message to ADDR
             --route-mailbox       keep messages in the hub's mailbox
  remove   stop accepting a domain; its recipients are deleted with it (asks first at a terminal,
           unless --yes)
Common options: --profile NAME, --json.`;

interface Route {
  type?: string;
  url?: string;
  address?: string;
  hasSecret?: boolean;
}

interface Domain {
  name: string;
  recipients?: number;
  route?: Route;
  createdAt?: string;
}

export function describeRoute(route: Route | undefined): string {
  switch (route?.type) {
    case undefined:
      return "-";
    case "webhook":
      return `webhook ${route.url ?? ""}`.trim();
    case "forward":
      return `forward to ${route.address ?? ""}`.trim();
    default:
      return route?.type ?? "-";
  }
}

async function list(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  positionals(rest, []);
  const client = await connect(io, values.profile);
  const json = new JsonListWriter(io);
  const table = new TableWriter<Domain>(io, [
    { header: "DOMAIN", value: (d) => d.name },
    { header: "RECIPIENTS", value: (d) => count(d.recipients), align: "right" },
    { header: "ROUTE", value: (d) => describeRoute(d.route), shrink: true },
    { header: "CREATED", value: (d) => when(d.createdAt) },
  ]);
  for await (const page of client.pages<Domain>("/domains")) (values.json ? json : table).add(page);
  if (values.json) json.end();
  else table.end("No accepted domains. Add one with: portcullis domains add DOMAIN");
  return API_EXIT.ok;
}

function routeFrom(values: {
  "route-webhook"?: string;
  secret?: string;
  "route-forward"?: string;
  "route-mailbox"?: boolean;
}): Record<string, string> | undefined {
  const chosen = [values["route-webhook"] !== undefined, values["route-forward"] !== undefined, values["route-mailbox"] === true].filter(Boolean).length;
  if (chosen > 1) throw new UsageError("give one route: --route-webhook, --route-forward or --route-mailbox");
  if (values.secret !== undefined && values["route-webhook"] === undefined) throw new UsageError("--secret goes with --route-webhook");
  if (values["route-webhook"] !== undefined) {
    return values.secret === undefined
      ? { type: "webhook", url: values["route-webhook"] }
      : { type: "webhook", url: values["route-webhook"], secret: values.secret };
  }
  if (values["route-forward"] !== undefined) return { type: "forward", address: values["route-forward"] };
  if (values["route-mailbox"] === true) return { type: "mailbox" };
  return undefined;
}

async function add(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {
    "route-webhook": { type: "string" },
    secret: { type: "string" },
    "route-forward": { type: "string" },
    "route-mailbox": { type: "boolean" },
  });
  const [name] = positionals(rest, ["DOMAIN"]);
  const route = routeFrom(values);
  const client = await connect(io, values.profile);
  const { status, body } = await client.request<Domain>("PUT", `/domains/${encodeURIComponent(name!)}`, route === undefined ? {} : { json: { route } });
  const created = status === 201;
  if (values.json) io.out(JSON.stringify({ created, domain: body }));
  else io.out(`${created ? "Added" : "Updated"} ${body.name ?? name} (route: ${describeRoute(body.route)}). The edges learn of it within seconds.`);
  return API_EXIT.ok;
}

async function remove(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { yes: { type: "boolean", default: false } });
  const [name] = positionals(rest, ["DOMAIN"]);
  const client = await connect(io, values.profile);
  if (!(await confirm(io, `Stop accepting ${name} and delete its recipients?`, values.yes || values.json))) {
    io.err("Nothing was changed.");
    return API_EXIT.ok;
  }
  await client.request("DELETE", `/domains/${encodeURIComponent(name!)}`);
  if (values.json) io.out(JSON.stringify({ removed: name }));
  else io.out(`Removed ${name} and its recipients. The edges refuse its mail within seconds.`);
  return API_EXIT.ok;
}

export const domains = group("domains", { list, add, remove });
