import { readBounded } from "../bytes.ts";
import { type CheckOutcome, exactlyOne, Findings, tagValues } from "./findings.ts";

/** How the MTA-STS policy file is fetched: `fetch` itself in a Worker or in Node; tests inject their own. */
export type PolicyFetch = (url: string, init: { method: "GET"; redirect: "manual"; headers: Record<string, string>; signal: AbortSignal }) => Promise<Response>;

/** How long the policy file may take to arrive before the check reports it as unreachable. */
export const MTA_STS_FETCH_TIMEOUT_MS = 10_000;

/**
 * Largest policy file read. Real ones are a handful of lines; RFC 8461 §3.3 sets 64 KiB as the
 * size past which senders may give up, so a bigger body is broken for them too.
 */
export const MTA_STS_POLICY_MAX_BYTES = 64 * 1024;

/** Longest max_age RFC 8461 §3.2 allows (seconds): about a year. */
const MAX_AGE_LIMIT = 31_557_600;

const SET_UP =
  'Add a CNAME record _mta-sts → _mta-sts.mx.cloudflare.net (DNS only, not proxied) and serve the policy at https://mta-sts.<domain>/.well-known/mta-sts.txt with a Worker on that custom domain that returns https://mta-sts.mx.cloudflare.net/.well-known/mta-sts.txt (Cloudflare\'s Email Routing docs, "Configure MTA-STS").';

export const policyUrl = (domain: string): string => `https://mta-sts.${domain}/.well-known/mta-sts.txt`;

/**
 * The `_mta-sts` TXT record (RFC 8461 §3.1) and, with `fetchPolicy`, the policy it announces: its
 * syntax, its mode, and whether its `mx` patterns cover every MX host of the domain (senders that
 * enforce the policy deliver to no other).
 */
export async function checkMtaSts(domain: string, txt: string[], mxHosts: Promise<string[]>, fetchPolicy: PolicyFetch | undefined): Promise<CheckOutcome> {
  const records = txt.filter((r) => /^v=STSv1\s*(;|$)/.test(r.trim()));
  const setUp = SET_UP.replace("<domain>", domain);
  const wrongCount = exactlyOne(records, ["warn", "No MTA-STS record: senders may deliver over TLS they do not verify, or without TLS.", setUp], (n) => [
    "fail",
    `${n} MTA-STS records: senders treat the domain as having none (RFC 8461 §3.1).`,
    "Keep one v=STSv1 record at _mta-sts.",
  ]);
  if (wrongCount !== null) return wrongCount;
  const findings = new Findings();
  const id = tagValues(records[0]!).get("id");
  if (id === undefined || !/^[A-Za-z0-9]{1,32}$/.test(id)) {
    findings.fail(
      `The record's id ${id === undefined ? "is missing" : `"${id}" is not 1–32 letters and digits`}, so senders ignore it.`,
      'Write it as "v=STSv1; id=20261121T000000".',
    );
  }
  if (fetchPolicy === undefined)
    return findings.outcome(records, `One MTA-STS record, id=${id ?? "(missing)"}; the policy file was not fetched (TXT record only).`);
  const policy = await readPolicy(domain, fetchPolicy);
  if (typeof policy === "string") {
    findings.fail(`The policy at ${policyUrl(domain)} could not be used: ${policy}.`, setUp);
    return findings.outcome(records, `One MTA-STS record, id=${id ?? "(missing)"}.`);
  }
  checkPolicy(policy, await mxHosts.catch(() => null), findings);
  return findings.outcome(
    records,
    `One MTA-STS record, id=${id ?? "(missing)"}; policy mode ${policy.mode ?? "(missing)"}, mx ${policy.mx.join(", ") || "(none)"}.`,
  );
}

interface Policy {
  version: string | undefined;
  mode: string | undefined;
  maxAge: string | undefined;
  mx: string[];
}

/** The policy file, parsed; a string says why there is none. */
async function readPolicy(domain: string, fetchPolicy: PolicyFetch): Promise<Policy | string> {
  let text: string;
  try {
    // RFC 8461 §3.3: no redirects; a policy is valid only from its own host.
    const response = await fetchPolicy(policyUrl(domain), {
      method: "GET",
      redirect: "manual",
      headers: { accept: "text/plain" },
      signal: AbortSignal.timeout(MTA_STS_FETCH_TIMEOUT_MS),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      return `it answered HTTP ${response.status}${response.status >= 300 && response.status < 400 ? " (senders do not follow redirects)" : ""}`;
    }
    text = response.body === null ? "" : new TextDecoder().decode(await readBounded(response.body, MTA_STS_POLICY_MAX_BYTES));
  } catch (error) {
    return error instanceof Error && error.name === "TimeoutError" ? "no answer in time" : `${error instanceof Error ? error.message : String(error)}`;
  }
  const policy: Policy = { version: undefined, mode: undefined, maxAge: undefined, mx: [] };
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon === -1) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === "version") policy.version ??= value;
    else if (key === "mode") policy.mode ??= value;
    else if (key === "max_age") policy.maxAge ??= value;
    else if (key === "mx") policy.mx.push(value.toLowerCase().replace(/\.$/, ""));
  }
  return policy;
}

/** Whether an MX host matches a policy's mx pattern: exactly, or `*.` standing for one leftmost label (RFC 8461 §4.1). */
export function mxMatches(host: string, pattern: string): boolean {
  if (!pattern.startsWith("*.")) return host === pattern;
  const dot = host.indexOf(".");
  return dot > 0 && host.slice(dot + 1) === pattern.slice(2);
}

function checkPolicy(policy: Policy, mxHosts: string[] | null, findings: Findings): void {
  const fixPolicy = "Serve a policy of version: STSv1, mode: enforce, mx: *.mx.cloudflare.net and max_age: 86400 (or proxy Cloudflare's own).";
  if (policy.version !== "STSv1")
    findings.fail(`The policy's version is ${policy.version === undefined ? "missing" : `"${policy.version}"`}, not STSv1.`, fixPolicy);
  const maxAge = Number(policy.maxAge);
  if (policy.maxAge === undefined || !/^\d{1,10}$/.test(policy.maxAge) || maxAge > MAX_AGE_LIMIT) {
    findings.fail(`The policy's max_age ${policy.maxAge === undefined ? "is missing" : `"${policy.maxAge}" is not 0–${MAX_AGE_LIMIT} seconds`}.`, fixPolicy);
  }
  switch (policy.mode) {
    case "enforce":
      break;
    case "testing":
      findings.warn(
        "The policy is in testing mode: senders report TLS failures but still deliver without TLS.",
        "Switch the policy to mode: enforce once TLS-RPT reports are clean.",
      );
      break;
    case "none":
      findings.warn("The policy's mode is none, which turns MTA-STS off.", "Switch the policy to mode: enforce.");
      return;
    default:
      findings.fail(`The policy's mode ${policy.mode === undefined ? "is missing" : `"${policy.mode}" is not enforce, testing or none`}.`, fixPolicy);
      return;
  }
  if (policy.mx.length === 0) {
    findings.fail("The policy names no mx hosts, so senders can deliver to none.", fixPolicy);
    return;
  }
  const uncovered = (mxHosts ?? []).filter((host) => host !== "" && !policy.mx.some((pattern) => mxMatches(host, pattern)));
  if (uncovered.length > 0) {
    const finding = `The policy's mx lines do not cover ${uncovered.join(", ")}: senders that honour the policy will not deliver there.`;
    const fix = `Add "mx: <host or *.parent>" lines for ${uncovered.join(", ")} to the policy, or remove those MX records.`;
    if (policy.mode === "enforce") findings.fail(finding, fix);
    else findings.warn(finding, fix);
  }
}
