import type { AuthVerdict } from "../types.ts";
import { arc, arcCommunitySealers, type MailauthArcData } from "./mailauth.js";
import type { AuthDns } from "./resolver.ts";
import { toVerdict } from "./verdicts.ts";

/**
 * ARC sealers whose word on an earlier hop is taken (RFC 8617 §7.2 leaves this to local policy):
 * the community list mailauth maintains (Gmail, Google Groups, Microsoft 365, Fastmail, …) and
 * Cloudflare Email Routing, which seals every message it hands to the edge.
 */
export const TRUSTED_ARC_SEALERS: readonly string[] = [...arcCommunitySealers, "cloudflare-email.net"];

export interface ArcOutcome {
  result: AuthVerdict;
  /** Sets in the chain (the highest i=), 0 without one. */
  instances: number;
  /** The d= of each ARC-Seal, i=1 first. */
  sealers: string[];
  /** What the i=1 ARC-Authentication-Results said about DMARC, read before validation. */
  firstDmarc: { result: string; from: string | null } | null;
  comment?: string;
}

/**
 * Validates the ARC chain (RFC 8617 §5.2) with mailauth: every ARC-Seal, and the newest
 * ARC-Message-Signature (already verified by the DKIM pass). mailauth reports every failure as
 * `fail`; one caused by a key lookup that could not be answered is reported here as `temperror`.
 *
 * @example
 * const outcome = await checkArc(dkim.arc, dns) // { result: "pass", instances: 2, sealers: ["google.com", "cloudflare-email.net"], … }
 */
export async function checkArc(data: MailauthArcData, dns: AuthDns): Promise<ArcOutcome> {
  const chain = data.chain === false ? [] : data.chain;
  const sealers = chain.map((set) => String(set["arc-seal"].parsed?.d?.value ?? "").toLowerCase());
  // Read before arc() runs: it rewrites the newest set's parsed results in place.
  const firstAar = chain[0]?.["arc-authentication-results"].parsed;
  const firstDmarc =
    firstAar?.dmarc === undefined
      ? null
      : { result: String(firstAar.dmarc.value ?? firstAar.dmarc.result ?? "").toLowerCase(), from: stringOrNull(firstAar.dmarc.header?.from) };
  const result = await arc(data, { resolver: dns.resolve });
  let verdict = toVerdict(result.status.result);
  if (verdict === "fail") {
    const keyNames = chain.map((set) => `${String(set["arc-seal"].parsed?.s?.value ?? "")}._domainkey.${String(set["arc-seal"].parsed?.d?.value ?? "")}`);
    const ams = data.lastEntry as (typeof data.lastEntry & { messageSignature?: { status?: { result?: string } } }) | undefined;
    if (keyNames.some((name) => dns.failed(name)) || ams?.messageSignature?.status?.result === "temperror") verdict = "temperror";
  }
  const outcome: ArcOutcome = { result: verdict, instances: chain.length === 0 ? (data.lastEntry?.i ?? 0) : chain.length, sealers, firstDmarc };
  if (result.status.comment) outcome.comment = result.status.comment;
  return outcome;
}

/**
 * Whether a DMARC failure may be overridden by what the ARC chain says (RFC 8617 §7.2): the chain
 * validates, every sealer in it is trusted — any sealer could have changed the message, so one
 * untrusted hop voids the chain's word — and the earliest hop's ARC-Authentication-Results says
 * dmarc=pass for the same From domain. Returns the reason for the note, or null.
 *
 * @example
 * arcOverride(outcome, "example.org") // "i=1 google.com said dmarc=pass"
 */
export function arcOverride(outcome: ArcOutcome, authorDomain: string | null, trusted: readonly string[] = TRUSTED_ARC_SEALERS): string | null {
  if (outcome.result !== "pass" || authorDomain === null || outcome.firstDmarc === null) return null;
  if (outcome.firstDmarc.result !== "pass" || outcome.firstDmarc.from?.toLowerCase() !== authorDomain.toLowerCase()) return null;
  if (outcome.sealers.length === 0 || !outcome.sealers.every((sealer) => isTrusted(sealer, trusted))) return null;
  return `i=1 ${outcome.sealers[0]} said dmarc=pass`;
}

function isTrusted(sealer: string, trusted: readonly string[]): boolean {
  return trusted.some((domain) => sealer === domain || sealer.endsWith(`.${domain}`));
}

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}
