import type { RecordType, Resolver } from "../../dns.ts";
import { normaliseDnsName } from "../../dns/stub.ts";
import { AUTH_DNS_BUDGET_MS, MAX_AUTH_DNS_LOOKUPS } from "../../limits.ts";
import type { MailauthResolver } from "./mailauth.js";

const RECORD_TYPES = new Set<string>(["A", "AAAA", "TXT", "MX", "PTR", "CNAME"]);

export interface AuthDnsOptions {
  /** Distinct questions allowed for the message; default MAX_AUTH_DNS_LOOKUPS. */
  maxLookups?: number;
  /** Time DNS may take for the message (ms); default AUTH_DNS_BUDGET_MS. */
  budgetMs?: number;
  /** Wall clock for the budget; default `Date.now`. */
  clock?: () => number;
}

type Outcome = { ok: true; records: string[] } | { ok: false; code: string; message: string };

/**
 * The project's {@link Resolver} as mailauth's `resolver(name, rrtype)` callback, for one
 * message: each question is asked once (SPF, DKIM, ARC and DMARC share the answers), the number
 * of questions and the time they may take are capped, and failures become the error codes
 * mailauth understands — ENODATA for no records, anything else a temporary error.
 *
 * The Resolver interface answers NXDOMAIN and "no records of this type" alike, so both are
 * reported as ENODATA ("the name exists"). mailauth only tells them apart for DMARC's np= tag
 * (policy for non-existent subdomains), which therefore never applies: sp= or p= does.
 *
 * @example
 * const dns = new AuthDns(resolver);
 * await spf({ ip, sender, mta: "edge", resolver: dns.resolve });
 */
export class AuthDns {
  readonly #resolver: Resolver;
  readonly #answers = new Map<string, Promise<Outcome>>();
  readonly #failed = new Set<string>();
  readonly #maxLookups: number;
  readonly #deadline: number;
  readonly #clock: () => number;
  #lookups = 0;

  constructor(resolver: Resolver, options: AuthDnsOptions = {}) {
    const maxLookups = options.maxLookups ?? MAX_AUTH_DNS_LOOKUPS;
    const budgetMs = options.budgetMs ?? AUTH_DNS_BUDGET_MS;
    if (!Number.isInteger(maxLookups) || maxLookups < 1) throw new RangeError(`maxLookups must be a positive integer, got ${maxLookups}`);
    if (!Number.isInteger(budgetMs) || budgetMs < 1) throw new RangeError(`budgetMs must be a positive integer, got ${budgetMs}`);
    this.#resolver = resolver;
    this.#maxLookups = maxLookups;
    this.#clock = options.clock ?? Date.now;
    this.#deadline = this.#clock() + budgetMs;
  }

  /** Questions sent to the resolver so far (repeats are answered from the first). */
  get lookups(): number {
    return this.#lookups;
  }

  /** Whether a lookup of this name failed (DNS error, time-out or the cap), as opposed to answering "nothing there". */
  failed(name: string): boolean {
    return this.#failed.has(normaliseDnsName(name));
  }

  /** Whether any lookup for the message failed. */
  get anyFailed(): boolean {
    return this.#failed.size > 0;
  }

  /** Time left in the DNS budget (ms). */
  remainingMs(): number {
    return Math.max(0, this.#deadline - this.#clock());
  }

  readonly resolve: MailauthResolver = async (name, rrtype) => {
    const type = String(rrtype).toUpperCase();
    if (!RECORD_TYPES.has(type)) throw codedError("ENOTIMP", `record type ${type} is not supported`);
    const qname = normaliseDnsName(String(name));
    const key = `${type} ${qname}`;
    let answer = this.#answers.get(key);
    if (answer === undefined) {
      answer = this.#ask(qname, type as RecordType);
      this.#answers.set(key, answer);
    }
    const outcome = await answer;
    // A fresh error and a fresh array each time: mailauth annotates errors and sorts MX lists in place.
    if (!outcome.ok) throw codedError(outcome.code, outcome.message);
    if (outcome.records.length === 0) throw codedError("ENODATA", `no ${type} records at ${qname}`);
    return shape(type as RecordType, outcome.records);
  };

  async #ask(qname: string, type: RecordType): Promise<Outcome> {
    if (this.#clock() >= this.#deadline) return this.#failure(qname, "ETIMEOUT", `DNS budget for this message spent before ${qname} ${type}`);
    if (this.#lookups >= this.#maxLookups) return this.#failure(qname, "ELOOKUPLIMIT", `more than ${this.#maxLookups} DNS lookups for this message`);
    this.#lookups++;
    try {
      return { ok: true, records: await this.#resolver.resolve(qname, type) };
    } catch (error) {
      return this.#failure(qname, "ESERVFAIL", error instanceof Error ? error.message : String(error));
    }
  }

  #failure(qname: string, code: string, message: string): Outcome {
    this.#failed.add(qname);
    return { ok: false, code, message };
  }
}

function codedError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** Answers in the shapes node:dns `resolve` returns, which is what mailauth expects. */
function shape(type: RecordType, records: string[]): unknown[] {
  switch (type) {
    case "TXT":
      return records.map((r) => [r]);
    case "MX":
      return records.map((r) => {
        const [priority = "0", exchange = ""] = r.trim().split(/\s+/);
        return { priority: Number(priority), exchange: exchange.replace(/\.$/, "") };
      });
    default:
      return [...records];
  }
}
