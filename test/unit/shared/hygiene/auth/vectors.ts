/**
 * Readers for the authentication vectors in the shared corpora (corpora/auth): the DNS sidecar
 * files of stalwart-mail-auth and its SPF test suites, turned into stub resolvers.
 */
import { DnsError, type RecordType } from "../../../../../shared/dns.ts";
import { normaliseDnsName, StubResolver } from "../../../../../shared/dns/stub.ts";
import { parseIp } from "../../../../../shared/net/cidr.ts";
import { readCorpus } from "../../../../helpers/corpus.ts";

export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** A stalwart `.dns.txt` sidecar ("<name> <TXT value>" per line) as a stub resolver. */
export async function sidecarResolver(file: string): Promise<StubResolver> {
  const dns = new StubResolver();
  for (const line of text(await readCorpus(file)).split(/\r?\n/)) {
    const space = line.indexOf(" ");
    if (space > 0) dns.add(line.slice(0, space), "TXT", line.slice(space + 1).trim());
  }
  return dns;
}

/** The reverse-lookup name of an address (RFC 1035 §3.5, RFC 3596 §2.5). */
export function reverseName(ip: string): string {
  const parsed = parseIp(ip);
  if (parsed === null) throw new Error(`not an IP: ${ip}`);
  if (parsed.version === 4) return `${[...parsed.bytes].reverse().join(".")}.in-addr.arpa`;
  const nibbles = [...parsed.bytes].flatMap((b) => [b >> 4, b & 15]).map((n) => n.toString(16));
  return `${nibbles.reverse().join(".")}.ip6.arpa`;
}

export interface SpfCase {
  /** "<file> / <section name> #<n>" */
  title: string;
  helo: string;
  sender: string;
  ip: string;
  expect: string;
  /** The explanation the domain's exp= gives, when the suite checks it. */
  explanation: string;
  dns: StubResolver;
}

type Zone = Map<string, Map<RecordType, string[]>>;

/** stalwart's test resolver answers every name with a `_dns_error` label with a DNS error. */
class VectorResolver extends StubResolver {
  override async resolve(name: string, type: RecordType): Promise<string[]> {
    if (normaliseDnsName(name).split(".").includes("_dns_error")) throw new DnsError(`SERVFAIL for ${name}`);
    return super.resolve(name, type);
  }
}

function zoneResolver(zone: Zone): StubResolver {
  const dns = new VectorResolver();
  for (const [name, types] of zone) for (const [type, values] of types) dns.set(name, type, ...values);
  return dns;
}

/**
 * The cases of one stalwart SPF suite, read the way its own harness (src/spf/verify.rs
 * `spf_verify`) reads them: sections split by `---`; `records` lines add to one record set per
 * FILE, a later line replacing an earlier one for the same name; `domain` (the HELO name),
 * `sender` and `ip` carry over from one test to the next inside a section; each `expect` line is
 * a case, with an optional explanation after the result.
 *
 * `mx:` lines list addresses: as in the harness, each becomes an exchange host (here named
 * `mx<n>.<address>.mx.vectors.test`, a valid host name) with that address, preference n+1.
 */
export function parseSpfSuite(file: string, source: string): SpfCase[] {
  const zone: Zone = new Map();
  const set = (name: string, type: RecordType, values: string[]) => {
    const key = normaliseDnsName(name);
    if (!zone.has(key)) zone.set(key, new Map());
    zone.get(key)!.set(type, values);
  };
  const cases: SpfCase[] = [];
  for (const section of source.split("---\n")) {
    let name = "";
    let helo = "";
    let sender = "";
    let ip = "127.0.0.1";
    let n = 0;
    for (const raw of section.split("\n")) {
      let line = raw.trim();
      if (line.startsWith("-")) line = line.slice(1).trim();
      const colon = line.indexOf(":");
      if (colon <= 0 || line.startsWith("#")) continue;
      const key = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      const [recordName = "", ...rest] = value.split(" ");
      const record = rest.join(" ").trim();
      const list = () => record.split(",").map((v) => v.trim());
      switch (key) {
        case "name":
          name = value;
          break;
        case "spf":
        case "exp":
          set(recordName, "TXT", [record]);
          break;
        case "a":
          set(recordName, "A", list());
          break;
        case "aaaa":
          set(recordName, "AAAA", list());
          break;
        case "ptr":
          set(reverseName(recordName), "PTR", list());
          break;
        case "mx": {
          const exchanges = list().map((address, pos) => {
            const host = `mx${pos}.${address.replace(/[:.]/g, "-")}.mx.vectors.test`;
            set(host, address.includes(":") ? "AAAA" : "A", [address]);
            return `${pos + 1} ${host}`;
          });
          set(recordName, "MX", exchanges);
          break;
        }
        case "domain":
          helo = value;
          break;
        case "sender":
          sender = value;
          break;
        case "ip":
          ip = value;
          break;
        case "expect": {
          const space = value.indexOf(" ");
          cases.push({
            title: `${file} / ${name} #${++n}`,
            helo,
            sender,
            ip,
            expect: space === -1 ? value : value.slice(0, space),
            explanation: space === -1 ? "" : value.slice(space + 1).trim(),
            dns: zoneResolver(zone),
          });
          break;
        }
      }
    }
  }
  return cases;
}
