/**
 * DNS for the DNS-check tests, served through the hub project's outbound fetches (outbound.ts), run
 * by vitest in Node, and by the CLI test's own HTTP server (test/node/cli-dns.test.ts):
 *   https://dns.test/dns-query     a DNS-over-HTTPS (JSON) server answering from DNS_ZONES, NXDOMAIN
 *                                  for other names; every name under servfail.test answers SERVFAIL,
 *                                  every name under hang.test answers after HANG_MS (past the check's
 *                                  time limit)
 *   https://mta-sts.<domain>/…     the MTA-STS policy files in POLICIES (404 for other domains)
 */

const CLOUDFLARE_MX = ["86 route1.mx.cloudflare.net.", "4 route2.mx.cloudflare.net.", "24 route3.mx.cloudflare.net."];

export const DNS_ZONES: Record<string, Record<string, string[]>> = {
  "dns-good.test": { MX: CLOUDFLARE_MX, TXT: ["v=spf1 include:_spf.mx.cloudflare.net ~all"] },
  "_dmarc.dns-good.test": { TXT: ["v=DMARC1; p=reject; rua=mailto:dmarc@dns-good.test"] },
  "_mta-sts.dns-good.test": { TXT: ["v=STSv1; id=20261121T000000;"] },
  "_smtp._tls.dns-good.test": { TXT: ["v=TLSRPTv1; rua=mailto:tls@dns-good.test"] },
  // Email Routing's MX and SPF and an enforcing DMARC, but no MTA-STS or TLS-RPT: warnings only.
  "dns-plain.test": { MX: CLOUDFLARE_MX, TXT: ["v=spf1 include:_spf.mx.cloudflare.net -all"] },
  "_dmarc.dns-plain.test": { TXT: ["v=DMARC1; p=quarantine; rua=mailto:dmarc@dns-plain.test"] },
  // MX at another provider, two SPF records, a monitoring-only DMARC without reports, no MTA-STS or TLS-RPT.
  "dns-broken.test": { MX: ["10 mx.mailhost.example."], TXT: ["v=spf1 include:_spf.mx.cloudflare.net ~all", "v=spf1 ip4:192.0.2.0/24 -all"] },
  "_dmarc.dns-broken.test": { TXT: ["v=DMARC1; p=none"] },
};

const POLICIES: Record<string, string> = {
  "dns-good.test": "version: STSv1\nmode: enforce\nmx: *.mx.cloudflare.net\nmax_age: 86400\n",
};

/** Longer than DNS_CHECK_QUERY_TIMEOUT_MS, so a question to hang.test times out. */
const HANG_MS = 7_000;

const TYPE_CODES: Record<string, number> = { A: 1, CNAME: 5, PTR: 12, MX: 15, TXT: 16, AAAA: 28 };

async function doh(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const name = (url.searchParams.get("name") ?? "").toLowerCase().replace(/\.$/, "");
  const type = url.searchParams.get("type") ?? "A";
  const under = (zone: string) => name === zone || name.endsWith(`.${zone}`);
  if (under("hang.test")) await new Promise((resolve) => setTimeout(resolve, HANG_MS));
  if (under("servfail.test")) return Response.json({ Status: 2 });
  const zone = DNS_ZONES[name];
  const Answer = (zone?.[type] ?? []).map((data) => ({ name, type: TYPE_CODES[type], TTL: 300, data: type === "TXT" ? `"${data}"` : data }));
  return Response.json({ Status: zone === undefined ? 3 : 0, Answer }, { headers: { "content-type": "application/dns-json" } });
}

/** The answer for a request to one of the hosts above; null for any other host. */
export function dnsFixture(request: Request, host: string): Promise<Response> | null {
  if (host === "dns.test") return doh(request);
  if (host.startsWith("mta-sts.") && new URL(request.url).pathname === "/.well-known/mta-sts.txt") {
    const policy = POLICIES[host.slice("mta-sts.".length)];
    return Promise.resolve(
      policy === undefined ? new Response("no policy here", { status: 404 }) : new Response(policy, { headers: { "content-type": "text/plain" } }),
    );
  }
  return null;
}
