import type { RejectReason } from "../../verdict.ts";
import { CONTINUE, reject } from "../../verdict.ts";
import { arcOverride } from "../auth/arc.ts";
import { authenticate, type AuthenticationReport } from "../auth/authenticate.ts";
import { toVerdict } from "../auth/verdicts.ts";
import type { Agent, AgentVerdict, AuthResults, AuthVerdict, ConnectionInfo } from "../types.ts";

/** What the edge knows without DNS: nothing was verified, so nothing failed. */
function offlineResults(): AuthResults {
  return {
    spf: { result: "none", domain: null },
    dkim: [],
    dmarc: { result: "none", domain: null, policy: null, aligned: { spf: false, dkim: false } },
    arc: { result: "none", instances: 0 },
  };
}

/** The DMARC verdict the decision rests on, and where it came from. */
export interface DmarcDecision {
  result: AuthVerdict;
  /** "edge" when computed here; "cloudflare" when ours could not be (offline, temperror) and Cloudflare's was used. */
  source: "edge" | "cloudflare";
  domain: string | null;
  /** The sender's policy as this edge read it; null when unknown. */
  policy: "none" | "quarantine" | "reject" | null;
  /** Why a `fail` is not enforced (a trusted ARC chain vouched for the original message), or null. */
  arcOverride: string | null;
}

/**
 * Our DMARC verdict, unless it could not be computed and Cloudflare's is there; then a `fail` is
 * enforced only with a policy this edge read itself (Cloudflare's stamp carries no policy) and
 * only when no trusted ARC chain vouches for the message.
 */
export function decideDmarc(results: AuthResults, report: AuthenticationReport | null, cloudflare: ConnectionInfo["cloudflare"]): DmarcDecision {
  const own = results.dmarc;
  let result = own.result;
  let source: DmarcDecision["source"] = "edge";
  if ((report === null || own.result === "temperror") && cloudflare?.dmarc !== undefined) {
    result = toVerdict(cloudflare.dmarc);
    source = "cloudflare";
  }
  const override = result === "fail" && report !== null ? arcOverride(report.arc, own.domain) : null;
  return { result, source, domain: own.domain, policy: own.policy, arcOverride: override };
}

/** One word for all DKIM signatures: pass if any passed, else the first signature's result. */
function dkimSummary(dkim: AuthResults["dkim"]): AuthVerdict {
  if (dkim.length === 0) return "none";
  return dkim.some((d) => d.result === "pass") ? "pass" : dkim[0]!.result;
}

/** Where Cloudflare's verdicts differ from ours, as "dkim (edge pass, cloudflare fail)". */
function disagreements(results: AuthResults, cloudflare: NonNullable<ConnectionInfo["cloudflare"]>): string[] {
  const ours: Record<"spf" | "dkim" | "dmarc", AuthVerdict> = { spf: results.spf.result, dkim: dkimSummary(results.dkim), dmarc: results.dmarc.result };
  const out: string[] = [];
  for (const method of ["spf", "dkim", "dmarc"] as const) {
    const theirs = cloudflare[method];
    if (theirs !== undefined && toVerdict(theirs) !== ours[method]) out.push(`${method} (edge ${ours[method]}, cloudflare ${theirs.toLowerCase()})`);
  }
  return out;
}

/**
 * SPF, DKIM, DMARC and ARC, computed at the edge (shared/hygiene/auth) with the injected
 * resolver and clock, set on `mail.auth` for later agents. A DMARC `fail` is enforced as the
 * sender's policy asks — `reject` refuses the message, `quarantine` quarantines it — unless a
 * trusted ARC chain says the message passed DMARC before it was forwarded.
 *
 * Open on failure, and never a rejection for a problem on our side: offline (no resolver)
 * every result is `none`; an unanswerable DNS question is `temperror`, which is not enforced.
 * Cloudflare's own verdicts (its top-most Authentication-Results) are recorded beside ours,
 * disagreements noted, and used for the DMARC decision when ours could not be computed.
 */
export const authentication: Agent = {
  name: "authentication",
  phase: "headers",
  failMode: "open",
  async check(mail, ctx) {
    const cloudflare = mail.connection.cloudflare;
    const report = ctx.dns
      ? await authenticate({ raw: mail.raw, ip: mail.connection.ip, helo: mail.connection.helo, sender: mail.envelope.from }, ctx.dns, {
          now: new Date(ctx.now?.() ?? Date.now()),
        })
      : null;
    const results = report?.results ?? offlineResults();
    mail.auth = results;

    const decision = decideDmarc(results, report, cloudflare);
    const parts = [`spf=${results.spf.result} dkim=${dkimSummary(results.dkim)} dmarc=${results.dmarc.result} arc=${results.arc.result}`];
    if (report === null) parts.push("offline (no DNS)");
    if (report !== null && report.dkimSkipped > 0) parts.push(`${report.dkimSkipped} DKIM signature(s) not checked`);
    if (decision.source === "cloudflare") parts.push(`dmarc=${decision.result} from cloudflare`);
    if (cloudflare !== null) {
      const theirs = `spf=${cloudflare.spf ?? "-"} dkim=${cloudflare.dkim ?? "-"} dmarc=${cloudflare.dmarc ?? "-"}`;
      parts.push(`cloudflare ${theirs}`);
      mail.notes["auth-cloudflare"] = theirs;
      const differ = report === null ? [] : disagreements(results, cloudflare);
      if (differ.length > 0) {
        parts.push(`disagrees on ${differ.join(", ")}`);
        mail.notes["auth-disagreement"] = differ.map((d) => d.split(" ")[0]).join(",");
      }
    }
    mail.notes["dmarc"] = decision.result;
    mail.notes["dmarc-source"] = decision.source;

    let verdict: AgentVerdict = CONTINUE;
    if (decision.result === "fail") {
      if (decision.arcOverride !== null) {
        parts.push(`dmarc fail not enforced: trusted ARC chain, ${decision.arcOverride}`);
        mail.notes["dmarc-arc-override"] = "true";
      } else if ((decision.policy === "reject" || decision.policy === "quarantine") && decision.domain !== null) {
        parts.push(`policy=${decision.policy}`);
        const reason: RejectReason = { reason: "dmarc_policy", domain: decision.domain, policy: decision.policy };
        verdict = decision.policy === "reject" ? reject(reason) : { action: "quarantine", reason };
      } else {
        parts.push(decision.policy === null ? "policy unknown" : "policy=none");
      }
    }
    return { ...verdict, note: parts.join("; "), ...(report === null ? { skipped: true } : {}) };
  },
};
