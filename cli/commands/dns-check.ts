import { API_EXIT } from "../api.ts";
import { normaliseDomain } from "../../shared/directory/address.ts";
import { checkDomainDns, DNS_CHECK_QUERY_TIMEOUT_MS, type DnsCheckStatus, type DnsOverall, type DnsReport } from "../../shared/dns/check.ts";
import { DEFAULT_DOH_ENDPOINT, DohResolver } from "../../shared/dns/doh.ts";
import { type Io, UsageError } from "../output.ts";
import { clean, colourEnabled, paint, printTable, type Style } from "../table.ts";
import { connect, parse, positionals } from "./command.ts";

export const DNS_CHECK_USAGE = `Usage: portcullis dns-check DOMAIN [--json]
       portcullis dns-check DOMAIN --local [--doh URL] [--json]

Checks a domain's mail DNS: whether its MX records point at Cloudflare Email Routing, and its SPF,
DMARC, MTA-STS (the _mta-sts record and the policy file) and TLS-RPT records. Each check is pass,
warn, fail or error (the resolver did not answer), with what was found and how to fix it.
  (default)   the hub checks one of its accepted domains over its DNS_OVER_HTTPS resolver
  --local     check from this machine instead, without a hub: any domain, before it is accepted
              or before the deployment (no profile needed)
  --doh URL   with --local: the DNS-over-HTTPS (JSON) endpoint; default ${DEFAULT_DOH_ENDPOINT}
Answers are never cached, so a record you just fixed shows at once (as soon as the resolver has it).
Exit codes: 0 every check passed or only warned; 2 a check failed (or the hub refused); 3 a check
could not be made because the resolver did not answer, or the hub could not be reached.
Common options: --profile NAME, --json (the report as the API gives it).`;

const STATUS_STYLE: Record<DnsCheckStatus | DnsOverall, Style> = { pass: "green", warn: "yellow", fail: "red", error: "red", unknown: "yellow" };

/** The exit code of a report: only a failed check is a problem with the domain; a resolver that did not answer is not. */
function exitFor(overall: DnsOverall): number {
  switch (overall) {
    case "pass":
    case "warn":
      return API_EXIT.ok;
    case "fail":
      return API_EXIT.refused;
    case "unknown":
      return API_EXIT.unreachable;
  }
}

async function localReport(domain: string, doh: string | undefined): Promise<DnsReport> {
  let resolver: DohResolver;
  try {
    resolver = new DohResolver({ endpoint: doh ?? DEFAULT_DOH_ENDPOINT, cache: null, timeoutMs: DNS_CHECK_QUERY_TIMEOUT_MS });
  } catch (error) {
    throw new UsageError(`--doh: ${error instanceof Error ? error.message : String(error)}`);
  }
  return checkDomainDns(domain, resolver, { fetchPolicy: (url, init) => fetch(url, init) });
}

function printReport(io: Io, report: DnsReport, by: string): void {
  const colour = colourEnabled(io);
  io.out(`${clean(report.domain)}: ${paint(clean(report.overall), STATUS_STYLE[report.overall], colour)} (checked ${clean(report.checkedAt)} ${by})`);
  printTable(
    io,
    [
      { header: "CHECK", value: (c) => c.check },
      { header: "STATUS", value: (c) => c.status, style: (c) => STATUS_STYLE[c.status] },
      { header: "FOUND", value: (c) => c.summary, shrink: true },
    ],
    report.checks,
    "No checks.",
  );
  const fixes = report.checks.filter((c) => c.fix !== null);
  if (fixes.length === 0) return;
  io.out("");
  io.out("To fix:");
  // A resolver that did not answer has the same fix for every check: said once.
  const byFix = Map.groupBy(fixes, (c) => c.fix);
  for (const [fix, checks] of byFix) io.out(`  ${checks.map((c) => c.check).join(", ")}: ${clean(fix)}`);
  if (report.checks.some((c) => c.status !== "error" && c.records.length > 0)) {
    io.out("");
    io.out("Records found:");
    for (const c of report.checks) for (const r of c.records) io.out(`  ${c.name} ${c.type} ${clean(r)}`);
  }
}

export async function dnsCheck(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { local: { type: "boolean", default: false }, doh: { type: "string" } });
  const [raw] = positionals(rest, ["DOMAIN"]);
  const domain = normaliseDomain(raw!);
  if (domain === null) throw new UsageError(`"${raw}" is not a domain name`);
  if (values.doh !== undefined && !values.local) throw new UsageError("--doh needs --local (the hub uses its own DNS_OVER_HTTPS)");
  const report = values.local
    ? await localReport(domain, values.doh)
    : await (await connect(io, values.profile)).get<DnsReport>(`/domains/${encodeURIComponent(domain)}/dns`);
  if (values.json) io.out(JSON.stringify(report));
  else printReport(io, report, values.local ? `from this machine via ${values.doh ?? DEFAULT_DOH_ENDPOINT}` : "by the hub");
  return exitFor(report.overall);
}
