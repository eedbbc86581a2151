import { DnsError, type RecordType, type Resolver } from "../dns.ts";
import { checkMtaSts, type PolicyFetch } from "./mta-sts.ts";
import type { CheckOutcome } from "./findings.ts";
import { checkDmarc, checkSpf, checkTlsRpt } from "./txt-checks.ts";
import { normaliseDnsName } from "./stub.ts";

export type { PolicyFetch } from "./mta-sts.ts";
export { CLOUDFLARE_SPF_INCLUDE, SPF_MAX_DNS_LOOKUPS } from "./txt-checks.ts";

/**
 * Where a domain's mail goes and how it is protected, as DNS-over-HTTPS sees it: MX at Cloudflare
 * Email Routing, SPF, DMARC, MTA-STS and TLS-RPT, each with a plain-language fix. Shared by the
 * hub's `GET /api/v1/domains/{domain}/dns` and `portcullis dns-check --local`.
 */

/** pass: nothing to do. warn: works, but should change. fail: broken or unsafe. error: the resolver gave no answer. */
export type DnsCheckStatus = "pass" | "warn" | "fail" | "error";

/** The whole domain: `unknown` when a resolver error left a check undecided and nothing failed. */
export type DnsOverall = "pass" | "warn" | "fail" | "unknown";

export type DnsCheckName = "mx" | "spf" | "dmarc" | "mta-sts" | "tls-rpt";

export interface DnsCheck {
  check: DnsCheckName;
  /** The DNS name asked. */
  name: string;
  type: RecordType;
  status: DnsCheckStatus;
  /** The records that matter to the check, as found (TXT strings joined). */
  records: string[];
  /** What was found, in a sentence or two. */
  summary: string;
  /** What to change, in plain language; null when nothing needs to. */
  fix: string | null;
}

export interface DnsReport {
  domain: string;
  overall: DnsOverall;
  checkedAt: string;
  checks: DnsCheck[];
}

export interface DnsCheckOptions {
  /**
   * How the MTA-STS policy is fetched from `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
   * Without one only the `_mta-sts` TXT record is checked, and the report says so.
   */
  fetchPolicy?: PolicyFetch;
  /** The report's clock; default `Date.now`. */
  now?: () => number;
}

/**
 * Per-question time limit for the DNS check's resolver. Longer than the mail path's one second: a
 * person is waiting for a complete answer, not an SMTP session for a verdict.
 */
export const DNS_CHECK_QUERY_TIMEOUT_MS = 5_000;

/**
 * Cloudflare Email Routing's mail servers all sit under this name: the zone gets three such MX
 * records (`route1`, `route2` and `route3.mx.cloudflare.net` for most zones, other names for some),
 * and Cloudflare's own MTA-STS policy for Email Routing names them as `*.mx.cloudflare.net`.
 */
export const CLOUDFLARE_MX_SUFFIX = ".mx.cloudflare.net";

const RESOLVER_FIX = "Nothing in the domain's DNS is known to be wrong: try again, and if it persists check the resolver (the hub's DNS_OVER_HTTPS, or --doh).";

const ENABLE_ROUTING =
  "In the Cloudflare dashboard open the zone's Email → Email Routing, choose Enable and let it add its records (MX route1, route2 and route3.mx.cloudflare.net), then send the catch-all address to your Portcullis edge Worker (portcullis-edge, or its -staging/-production name).";

/**
 * Checks a domain's mail DNS. Every check is asked at once; a resolver failure (timeout, SERVFAIL,
 * network) makes that check `error` and the report `unknown` — never `fail`, which is kept for what
 * the domain's own records say.
 *
 * @example
 * const report = await checkDomainDns("example.com", new DohResolver({ cache: null }));
 * report.overall // "warn"
 * report.checks.find((c) => c.check === "dmarc")?.fix // "Move to p=quarantine, then p=reject, …"
 */
export async function checkDomainDns(domain: string, resolver: Resolver, options: DnsCheckOptions = {}): Promise<DnsReport> {
  const now = options.now ?? Date.now;
  domain = normaliseDnsName(domain);
  // One MX question for two checks: the MX check, and whether the MTA-STS policy covers every host.
  const mx = quiet(resolver.resolve(domain, "MX"));
  const mxHosts = quiet(mx.then((records) => records.map((r) => parseMx(r).exchange)));
  const checks = await Promise.all([
    guarded("mx", domain, "MX", async () => checkMx(await mx)),
    guarded("spf", domain, "TXT", async () => checkSpf(await resolver.resolve(domain, "TXT"))),
    guarded("dmarc", `_dmarc.${domain}`, "TXT", async () => checkDmarc(await resolver.resolve(`_dmarc.${domain}`, "TXT"))),
    guarded("mta-sts", `_mta-sts.${domain}`, "TXT", async () =>
      checkMtaSts(domain, await resolver.resolve(`_mta-sts.${domain}`, "TXT"), mxHosts, options.fetchPolicy),
    ),
    guarded("tls-rpt", `_smtp._tls.${domain}`, "TXT", async () => checkTlsRpt(await resolver.resolve(`_smtp._tls.${domain}`, "TXT"))),
  ]);
  return { domain, overall: overallOf(checks), checkedAt: new Date(now()).toISOString(), checks };
}

/** The worst of the checks; a resolver error only decides when nothing failed outright. */
export function overallOf(checks: readonly Pick<DnsCheck, "status">[]): DnsOverall {
  const has = (status: DnsCheckStatus) => checks.some((c) => c.status === status);
  if (has("fail")) return "fail";
  if (has("error")) return "unknown";
  return has("warn") ? "warn" : "pass";
}

/** A shared answer whose failure is left to whoever awaits it: a check that returns early never does. */
function quiet<T>(pending: Promise<T>): Promise<T> {
  pending.catch(() => {});
  return pending;
}

async function guarded(check: DnsCheckName, name: string, type: RecordType, run: () => Promise<CheckOutcome>): Promise<DnsCheck> {
  try {
    return { check, name, type, ...(await run()) };
  } catch (error) {
    if (!(error instanceof DnsError)) throw error;
    return {
      check,
      name,
      type,
      status: "error",
      records: [],
      summary: `The resolver could not be reached or did not answer (${error.message}), so this was not checked.`,
      fix: RESOLVER_FIX,
    };
  }
}

/** An MX record split into its preference and exchange (lower case, no root dot; "" for a null MX). */
export function parseMx(record: string): { preference: number; exchange: string } {
  const [preference = "", exchange = ""] = record.trim().split(/\s+/);
  return { preference: Number(preference), exchange: exchange.toLowerCase().replace(/\.$/, "") };
}

export const isCloudflareMx = (exchange: string): boolean => exchange.endsWith(CLOUDFLARE_MX_SUFFIX);

function checkMx(records: string[]): CheckOutcome {
  if (records.length === 0) {
    return { status: "fail", records, summary: "No MX records: senders have nowhere to deliver the domain's mail.", fix: ENABLE_ROUTING };
  }
  const hosts = records.map(parseMx);
  if (hosts.some((h) => h.exchange === "")) {
    return {
      status: "fail",
      records,
      summary: "A null MX record (RFC 7505) says the domain accepts no mail at all.",
      fix: `Delete the null MX record ("0 ."). ${ENABLE_ROUTING}`,
    };
  }
  const cloudflare = hosts.filter((h) => isCloudflareMx(h.exchange));
  const others = hosts.filter((h) => !isCloudflareMx(h.exchange));
  if (others.length === 0) {
    return { status: "pass", records, summary: `${records.length} MX record${records.length === 1 ? "" : "s"}, all at Cloudflare Email Routing.`, fix: null };
  }
  const foreign = others.map((h) => h.exchange).join(", ");
  if (cloudflare.length === 0) {
    return {
      status: "fail",
      records,
      summary: `The MX records point elsewhere (${foreign}): mail does not reach Cloudflare Email Routing or this gateway.`,
      fix: `Remove the MX records for ${foreign}. ${ENABLE_ROUTING}`,
    };
  }
  const best = Math.min(...cloudflare.map((h) => h.preference));
  const ahead = others.filter((h) => h.preference <= best);
  const fix = `Remove the MX records for ${foreign}: Email Routing wants to be the domain's only mail server, and mail that reaches another server skips this gateway's checks.`;
  if (ahead.length > 0) {
    return {
      status: "fail",
      records,
      summary: `MX records for ${ahead.map((h) => h.exchange).join(", ")} come before (or level with) Cloudflare's, so senders deliver there.`,
      fix,
    };
  }
  return {
    status: "warn",
    records,
    summary: `Backup MX records for ${foreign} sit behind Cloudflare's: mail sent there (spammers favour backup MX) skips this gateway.`,
    fix,
  };
}
