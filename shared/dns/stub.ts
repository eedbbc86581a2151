import { DnsError, type RecordType, type Resolver } from "../dns.ts";

/** Records by name, then by type, in the {@link Resolver} form (TXT joined, MX "<pref> <exchange>"). */
export type StubRecords = Record<string, Partial<Record<RecordType, readonly string[]>>>;

export interface StubResolverOptions {
  /** Names whose every lookup fails as if the server answered SERVFAIL. */
  failing?: readonly string[];
}

/** A DNS name as the stub keys it: lower case, without the root dot. */
export function normaliseDnsName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

/**
 * A resolver that answers from a fixed record map: for tests, fixed-clock vectors and offline
 * runs of the CLI. Names match case-insensitively, with or without the trailing dot; a name or
 * type that is not in the map answers with no records, like NXDOMAIN.
 *
 * @example
 * const dns = new StubResolver({ "example.com": { TXT: ["v=spf1 -all"], MX: ["10 mx.example.com"] } }, { failing: ["broken.example"] });
 * await dns.resolve("Example.com.", "TXT") // ["v=spf1 -all"]
 * await dns.resolve("broken.example", "A") // throws DnsError
 */
export class StubResolver implements Resolver {
  readonly #records = new Map<string, Partial<Record<RecordType, string[]>>>();
  readonly #failing: Set<string>;
  /** Every question asked, in order, so tests can check what was looked up. */
  readonly queries: { name: string; type: RecordType }[] = [];

  constructor(records: StubRecords = {}, options: StubResolverOptions = {}) {
    for (const [name, types] of Object.entries(records)) {
      for (const [type, values] of Object.entries(types) as [RecordType, readonly string[]][]) this.add(name, type, ...values);
    }
    this.#failing = new Set((options.failing ?? []).map(normaliseDnsName));
  }

  /** Adds records of one type at a name (appending to any already there). */
  add(name: string, type: RecordType, ...values: string[]): this {
    const key = normaliseDnsName(name);
    const entry = this.#records.get(key) ?? {};
    entry[type] = [...(entry[type] ?? []), ...values];
    this.#records.set(key, entry);
    return this;
  }

  /** Replaces the records of one type at a name. */
  set(name: string, type: RecordType, ...values: string[]): this {
    const key = normaliseDnsName(name);
    this.#records.set(key, { ...this.#records.get(key), [type]: values });
    return this;
  }

  /** Makes every lookup of a name fail with {@link DnsError}. */
  fail(name: string): this {
    this.#failing.add(normaliseDnsName(name));
    return this;
  }

  async resolve(name: string, type: RecordType): Promise<string[]> {
    const key = normaliseDnsName(name);
    this.queries.push({ name: key, type });
    if (this.#failing.has(key)) throw new DnsError(`SERVFAIL for ${key} ${type}`);
    return [...(this.#records.get(key)?.[type] ?? [])];
  }
}
