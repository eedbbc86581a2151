import type { Resolver } from "../../dns.ts";
import type { AuthResults } from "../types.ts";
import { type ArcOutcome, checkArc } from "./arc.ts";
import { verifyDkim } from "./dkim.ts";
import { checkDmarc, type DmarcOutcome } from "./dmarc.ts";
import { AuthDns, type AuthDnsOptions } from "./resolver.ts";
import { checkSpf, type SpfIdentity, type SpfOutcome } from "./spf.ts";
import { toVerdict } from "./verdicts.ts";

export interface AuthenticationInput extends SpfIdentity {
  /** The message exactly as received. */
  raw: Uint8Array;
}

export interface AuthenticationOptions extends AuthDnsOptions {
  /** The time signatures are checked at (x= expiry). */
  now: Date;
  /** DKIM-Signature fields verified at most; default MAX_DKIM_SIGNATURES. */
  maxSignatures?: number;
}

/** Everything computed for one message: the {@link AuthResults} agents read, and the details behind them. */
export interface AuthenticationReport {
  results: AuthResults;
  spf: SpfOutcome;
  dmarc: DmarcOutcome;
  arc: ArcOutcome;
  /** DKIM-Signature fields left unverified past MAX_DKIM_SIGNATURES. */
  dkimSkipped: number;
  /** DNS questions asked for the message. */
  dnsLookups: number;
}

/**
 * SPF, DKIM, DMARC and ARC for one message, computed at the edge with mailauth over `resolver`.
 * DKIM and SPF run side by side; ARC and DMARC follow, since they read the DKIM results. Never
 * throws for anything about the message or DNS: a question that cannot be answered ends the check
 * that asked it as `temperror`.
 *
 * @example
 * const report = await authenticate({ raw, ip: "192.0.2.1", helo: "mx.example.net", sender: "a@example.net" }, dns, { now: new Date() });
 * report.results.dmarc.result // "pass"
 */
export async function authenticate(input: AuthenticationInput, resolver: Resolver, options: AuthenticationOptions): Promise<AuthenticationReport> {
  const dns = new AuthDns(resolver, options);
  const [dkim, spf] = await Promise.all([
    verifyDkim(input.raw, dns.resolve, options.now, options.maxSignatures),
    checkSpf({ ip: input.ip, helo: input.helo, sender: input.sender }, dns.resolve, dns.remainingMs()),
  ]);
  const arc = await checkArc(dkim.arc, dns);
  const dmarc = await checkDmarc({ headerFrom: dkim.headerFrom, fromFields: dkim.fromFields, spf, dkim: dkim.results, resolver: dns.resolve });
  return {
    results: {
      spf: { result: spf.result, domain: spf.domain },
      dkim: dkim.results.map((r) => ({ result: toVerdict(r.status.result), domain: r.signingDomain ?? null, selector: r.selector ?? null })),
      dmarc: { result: dmarc.result, domain: dmarc.domain, policy: dmarc.policy, aligned: dmarc.aligned },
      arc: { result: arc.result, instances: arc.instances },
    },
    spf,
    dmarc,
    arc,
    dkimSkipped: dkim.skipped,
    dnsLookups: dns.lookups,
  };
}
