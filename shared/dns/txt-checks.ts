import { type CheckOutcome, exactlyOne, Findings, tagValues } from "./findings.ts";

/** The TXT-record checks of the DNS check (shared/dns/check.ts): SPF, DMARC and TLS-RPT. */

/** RFC 7208 §4.6.4: an SPF check may cause at most 10 DNS-querying terms; more is a permerror. */
export const SPF_MAX_DNS_LOOKUPS = 10;

/** The SPF include Email Routing adds to the zone, so the mail Cloudflare sends for the domain passes SPF. */
export const CLOUDFLARE_SPF_INCLUDE = "include:_spf.mx.cloudflare.net";

/** SPF terms that cost a DNS lookup (RFC 7208 §4.6.4). */
const SPF_LOOKUP_TERMS = new Set(["include", "a", "mx", "ptr", "exists", "redirect"]);
const SPF_MECHANISMS = new Set(["all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"]);

export function checkSpf(txt: string[]): CheckOutcome {
  const records = txt.filter((r) => /^v=spf1(\s|$)/i.test(r.trim()));
  const recommended = `v=spf1 ${CLOUDFLARE_SPF_INCLUDE} ~all`;
  const wrongCount = exactlyOne(
    records,
    ["fail", "No SPF record.", `Add a TXT record at the domain: "${recommended}" (Email Routing adds it when enabled).`],
    (n) => [
      "fail",
      `${n} SPF records: receivers treat that as an error (RFC 7208 §4.5) and every SPF check of the domain's mail fails.`,
      `Merge them into one TXT record, keeping ${CLOUDFLARE_SPF_INCLUDE}, and delete the others.`,
    ],
  );
  if (wrongCount !== null) return wrongCount;
  const findings = new Findings();
  const terms = records[0]!.trim().split(/\s+/).slice(1);
  let lookups = 0;
  let all: string | undefined;
  let redirect = false;
  for (const term of terms) {
    const match = /^([+\-~?]?)([a-z][a-z0-9_.-]*)(.*)$/i.exec(term);
    const qualifier = match?.[1] ?? "";
    const name = match?.[2]?.toLowerCase() ?? "";
    const rest = match?.[3] ?? "";
    const modifier = rest.startsWith("=");
    if (match === null || (!modifier && !SPF_MECHANISMS.has(name))) {
      findings.fail(`"${term}" is not an SPF mechanism, so receivers reject the whole record (permerror).`, `Correct or remove "${term}".`);
      continue;
    }
    if (SPF_LOOKUP_TERMS.has(name)) lookups++;
    if (name === "redirect" && modifier) redirect = true;
    if (name === "all" && !modifier) all = qualifier || "+";
    if (name === "ptr" && !modifier)
      findings.warn('The "ptr" mechanism is slow and unreliable (RFC 7208 §5.5 says not to use it).', 'Replace "ptr" with ip4:/ip6: ranges or an include.');
  }
  if (!terms.some((t) => t.toLowerCase().replace(/^\+/, "") === CLOUDFLARE_SPF_INCLUDE)) {
    findings.fail(`The record lacks ${CLOUDFLARE_SPF_INCLUDE}, which Email Routing needs.`, `Add ${CLOUDFLARE_SPF_INCLUDE} before the "all" at the end.`);
  }
  if (lookups > SPF_MAX_DNS_LOOKUPS) {
    findings.fail(
      `The record itself needs ${lookups} DNS lookups, over the limit of ${SPF_MAX_DNS_LOOKUPS}: receivers give up (permerror).`,
      "Replace includes you no longer need, or hosts with ip4:/ip6: ranges.",
    );
  }
  if (all === "+") {
    findings.fail('It ends in "+all": anyone may send mail as the domain.', 'End the record with "-all" (or "~all" while you check who sends for the domain).');
  } else if (all === "?") {
    findings.warn('It ends in "?all", which says nothing about mail from other servers.', 'End the record with "~all" or "-all".');
  } else if (all === undefined && !redirect) {
    findings.warn('It has no "all" at the end, so mail from other servers is neither passed nor failed.', 'End the record with "~all" or "-all".');
  }
  return findings.outcome(records, `One SPF record, ${lookups} DNS lookup${lookups === 1 ? "" : "s"} in the record itself (included records add their own).`);
}

export function checkDmarc(txt: string[]): CheckOutcome {
  const records = txt.filter((r) => /^v\s*=\s*DMARC1\s*(;|$)/i.test(r.trim()));
  const wrongCount = exactlyOne(
    records,
    [
      "warn",
      "No DMARC record: receivers cannot tell forged mail claiming to be from the domain from real mail.",
      'Add a TXT record at _dmarc: "v=DMARC1; p=none; rua=mailto:dmarc-reports@<your domain>", read the reports, then move to p=quarantine and p=reject.',
    ],
    (n) => ["fail", `${n} DMARC records: receivers ignore them all (RFC 7489 §6.6.3).`, "Keep one v=DMARC1 record at _dmarc and delete the others."],
  );
  if (wrongCount !== null) return wrongCount;
  const findings = new Findings();
  const tags = tagValues(records[0]!);
  const policy = tags.get("p")?.toLowerCase();
  if (policy === undefined || !["none", "quarantine", "reject"].includes(policy)) {
    findings.fail(
      policy === undefined ? "The record has no p= policy." : `"p=${tags.get("p")}" is not a DMARC policy.`,
      "Set p=none, p=quarantine or p=reject (right after v=DMARC1).",
    );
  } else if (policy === "none") {
    findings.warn(
      "p=none only monitors: forged mail is still delivered.",
      "Once the aggregate reports show your own mail passing, move to p=quarantine, then p=reject.",
    );
  }
  const pct = tags.get("pct");
  if (pct !== undefined && pct !== "100" && policy !== "none") {
    findings.warn(`pct=${pct} applies the policy to part of the failing mail only.`, "Raise pct to 100 (or remove it) once you are confident.");
  }
  const rua = tags.get("rua");
  if (rua === undefined) {
    findings.warn(
      "No rua= address: you get no reports of who sends mail as the domain.",
      "Add rua=mailto:<an address that collects reports> (Cloudflare's DMARC Management can provide one).",
    );
  } else if (rua.split(",").some((uri) => !/^mailto:/i.test(uri.trim()))) {
    findings.fail(`rua=${rua} has an address that is not mailto:.`, "Write each rua address as mailto:someone@example.com, separated by commas.");
  }
  return findings.outcome(records, `One DMARC record, p=${policy ?? "(missing)"}${rua === undefined ? "" : ", reports to " + rua}.`);
}

export function checkTlsRpt(txt: string[]): CheckOutcome {
  const records = txt.filter((r) => /^v\s*=\s*TLSRPTv1\s*(;|$)/i.test(r.trim()));
  const wrongCount = exactlyOne(
    records,
    [
      "warn",
      "No TLS-RPT record: senders cannot tell you when TLS to your MX fails.",
      'Add a TXT record at _smtp._tls: "v=TLSRPTv1; rua=mailto:tls-reports@<your domain>".',
    ],
    (n) => ["fail", `${n} TLS-RPT records: senders ignore them all (RFC 8460 §3).`, "Keep one v=TLSRPTv1 record at _smtp._tls and delete the others."],
  );
  if (wrongCount !== null) return wrongCount;
  const findings = new Findings();
  const rua = tagValues(records[0]!).get("rua");
  if (rua === undefined || rua === "") {
    findings.fail("The record has no rua= address, so no report can be sent.", "Add rua=mailto:tls-reports@<your domain> (or an https: URL).");
  } else if (rua.split(",").some((uri) => !/^(mailto|https):/i.test(uri.trim()))) {
    findings.fail(`rua=${rua} has an address that is neither mailto: nor https:.`, "Write each rua address as mailto:… or https://…, separated by commas.");
  }
  return findings.outcome(records, `One TLS-RPT record${rua ? `, reports to ${rua}` : ""}.`);
}
