import type { AuthResults, AuthVerdict } from "../types.ts";
import { evaluateDmarc, type MailauthArcResult, type MailauthDkimResult, type MailauthResolver } from "./mailauth.js";
import type { SpfOutcome } from "./spf.ts";
import { toVerdict } from "./verdicts.ts";

export interface DmarcInput {
  headerFrom: string[];
  fromFields: number;
  spf: SpfOutcome;
  dkim: MailauthDkimResult[];
  resolver: MailauthResolver;
  arcResult?: MailauthArcResult;
}

export type DmarcOutcome = AuthResults["dmarc"] & { comment?: string };

const POLICIES = new Set(["none", "quarantine", "reject"]);

/**
 * DMARC (RFC 9989, RFC 7489) with mailauth: policy discovery, and SPF and DKIM identifier
 * alignment in the record's relaxed or strict mode.
 *
 * A `fail` computed while SPF or a DKIM signature ended in temperror is reported as `temperror`:
 * the identifier that could not be checked might have aligned, and a DNS problem on our side
 * must never become a rejection. The policy is kept, so a verdict from elsewhere can use it.
 * A message whose From has no single author domain cannot be evaluated (RFC 9989 §5.3.1):
 * `none` without a From domain, `permerror` with several.
 *
 * @example
 * await checkDmarc({ headerFrom: ["a@example.org"], fromFields: 1, spf, dkim, resolver }) // { result: "pass", domain: "example.org", policy: "reject", aligned: { spf: true, dkim: true } }
 */
export async function checkDmarc(input: DmarcInput): Promise<DmarcOutcome> {
  const { response, reason } = await evaluateDmarc({
    headerFrom: input.headerFrom,
    fromFields: input.fromFields,
    spfDomains: input.spf.result === "pass" && input.spf.domain !== null ? [input.spf.domain] : [],
    dkimDomains: input.dkim
      .filter((r) => r.status.result === "pass" && r.signingDomain !== undefined)
      .map((r) => ({ id: r.id, domain: r.signingDomain!, aligned: r.status.aligned, underSized: r.status.underSized })),
    arcResult: input.arcResult,
    resolver: input.resolver,
  });
  if (response === false) {
    const unevaluable: DmarcOutcome = {
      result: reason === "no-author-domain" ? "none" : "permerror",
      domain: null,
      policy: null,
      aligned: { spf: false, dkim: false },
    };
    if (reason !== undefined) unevaluable.comment = reason;
    return unevaluable;
  }
  let result: AuthVerdict = toVerdict(response.status.result);
  const policy = response.policy !== undefined && POLICIES.has(response.policy) ? response.policy : null;
  const unchecked = input.spf.result === "temperror" || input.dkim.some((r) => r.status.result === "temperror");
  if (result === "fail" && unchecked) result = "temperror";
  const outcome: DmarcOutcome = {
    result,
    domain: response.status.header.from || null,
    policy: result === "none" ? null : policy,
    aligned: { spf: Boolean(response.alignment?.spf.result), dkim: Boolean(response.alignment?.dkim.result) },
  };
  const comment = response.error ?? response.status.comment;
  if (comment) outcome.comment = comment;
  return outcome;
}
