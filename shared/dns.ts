/**
 * DNS as the hygiene agents see it. Agents never resolve names themselves: the edge passes a
 * DNS-over-HTTPS resolver, `portcullis scan --dns` the same, tests a stub, and offline scans none.
 */

export type RecordType = "A" | "AAAA" | "TXT" | "MX" | "PTR" | "CNAME";

/** A lookup that could not be answered (timeout, SERVFAIL, network): not the same as "no such name". */
export class DnsError extends Error {
  override name = "DnsError";
}

export interface Resolver {
  /**
   * The records of one type at a name: TXT records with their strings joined, MX as
   * "<preference> <exchange>". An empty array for NXDOMAIN or no data. Throws {@link DnsError}
   * when the question could not be answered.
   */
  resolve(name: string, type: RecordType): Promise<string[]>;
}
