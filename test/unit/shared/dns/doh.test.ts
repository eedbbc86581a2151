import { describe, expect, it } from "vitest";
import { DnsError } from "../../../../shared/dns.ts";
import { DEFAULT_DOH_ENDPOINT, DnsCache, type DohFetch, DohResolver } from "../../../../shared/dns/doh.ts";
import {
  DNS_CACHE_MAX_TTL_SECONDS,
  DNS_NEGATIVE_CACHE_DEFAULT_TTL_SECONDS,
  DNS_NEGATIVE_CACHE_MAX_TTL_SECONDS,
  MAX_DOH_RESPONSE_BYTES,
} from "../../../../shared/limits.ts";

/** A DoH server in a function: answers by "name type", and records every request. */
function fakeServer(answers: Record<string, unknown | (() => unknown)>) {
  const requests: { url: URL; accept: string | undefined }[] = [];
  const fetch: DohFetch = async (url, init) => {
    const parsed = new URL(url);
    requests.push({ url: parsed, accept: init.headers.accept });
    const answer = answers[`${parsed.searchParams.get("name")} ${parsed.searchParams.get("type")}`];
    const body = typeof answer === "function" ? answer() : answer;
    if (body instanceof Response) return body;
    return Response.json(body ?? { Status: 3, Answer: [] });
  };
  return { fetch, requests };
}

const clock = (start = 1_000_000) => {
  let now = start;
  return { now: () => now, advance: (seconds: number) => (now += seconds * 1000) };
};

const soa = (ttl: number, minimum: number) => ({
  name: "example.org.",
  type: 6,
  TTL: ttl,
  data: `ns1.example.org. hostmaster.example.org. 2026112101 7200 3600 1209600 ${minimum}`,
});

describe("DohResolver", () => {
  it("asks the JSON endpoint with accept: application/dns-json and returns the records in Resolver form", async () => {
    const server = fakeServer({
      "example.org TXT": { Status: 0, Answer: [{ name: "example.org.", type: 16, TTL: 300, data: '"v=spf1 " "ip4:192.0.2.0/24 -all"' }] },
      "example.org MX": {
        Status: 0,
        Answer: [
          { name: "example.org.", type: 15, TTL: 300, data: "10 mx1.example.org." },
          { name: "example.org.", type: 15, TTL: 300, data: "20 mx2.example.org." },
        ],
      },
      "www.example.org A": {
        Status: 0,
        Answer: [
          { name: "www.example.org.", type: 5, TTL: 60, data: "web.example.org." },
          { name: "web.example.org.", type: 1, TTL: 300, data: "192.0.2.80" },
        ],
      },
    });
    const dns = new DohResolver({ fetch: server.fetch, cache: null });
    expect(await dns.resolve("Example.org.", "TXT")).toEqual(["v=spf1 ip4:192.0.2.0/24 -all"]);
    expect(await dns.resolve("example.org", "MX")).toEqual(["10 mx1.example.org", "20 mx2.example.org"]);
    // The CNAME in the chain is not an A record.
    expect(await dns.resolve("www.example.org", "A")).toEqual(["192.0.2.80"]);
    expect(server.requests[0]!.url.origin + server.requests[0]!.url.pathname).toBe(DEFAULT_DOH_ENDPOINT);
    expect(server.requests[0]!.url.searchParams.get("name")).toBe("example.org");
    expect(server.requests.every((r) => r.accept === "application/dns-json")).toBe(true);
  });

  it('decodes TXT escapes: \\" and \\\\ and \\DDD, and takes unquoted text as it is', async () => {
    const server = fakeServer({
      "a.example TXT": { Status: 0, Answer: [{ type: 16, TTL: 60, data: '"say \\"hi\\" \\\\ caf\\195\\169"' }] },
      "b.example TXT": { Status: 0, Answer: [{ type: 16, TTL: 60, data: "v=DKIM1; p=abc" }] },
    });
    const dns = new DohResolver({ fetch: server.fetch, cache: null });
    expect(await dns.resolve("a.example", "TXT")).toEqual(['say "hi" \\ café']);
    expect(await dns.resolve("b.example", "TXT")).toEqual(["v=DKIM1; p=abc"]);
  });

  it("uses a configured endpoint", async () => {
    const server = fakeServer({});
    await new DohResolver({ fetch: server.fetch, endpoint: "https://dns.google/resolve", cache: null }).resolve("example.org", "A");
    expect(server.requests[0]!.url.href).toBe("https://dns.google/resolve?name=example.org&type=A");
  });

  it("caches answers for their TTL (the smallest in the chain) on the injected clock", async () => {
    let served = 0;
    const server = fakeServer({
      "example.org TXT": () => ({
        Status: 0,
        Answer: [
          { type: 5, TTL: 30, data: "alias.example.org." },
          { type: 16, TTL: 300, data: `"v=spf1 -all ${++served}"` },
        ],
      }),
    });
    const time = clock();
    const dns = new DohResolver({ fetch: server.fetch, cache: new DnsCache(10), now: time.now });
    expect(await dns.resolve("example.org", "TXT")).toEqual(["v=spf1 -all 1"]);
    time.advance(29);
    expect(await dns.resolve("example.org", "TXT")).toEqual(["v=spf1 -all 1"]);
    expect(server.requests).toHaveLength(1);
    time.advance(1);
    expect(await dns.resolve("example.org", "TXT")).toEqual(["v=spf1 -all 2"]);
    expect(server.requests).toHaveLength(2);
  });

  it(`caches no answer longer than DNS_CACHE_MAX_TTL_SECONDS (${DNS_CACHE_MAX_TTL_SECONDS} s)`, async () => {
    const server = fakeServer({ "example.org A": { Status: 0, Answer: [{ type: 1, TTL: 86_400, data: "192.0.2.1" }] } });
    const time = clock();
    const dns = new DohResolver({ fetch: server.fetch, cache: new DnsCache(10), now: time.now });
    await dns.resolve("example.org", "A");
    time.advance(DNS_CACHE_MAX_TTL_SECONDS - 1);
    await dns.resolve("example.org", "A");
    expect(server.requests).toHaveLength(1);
    time.advance(1);
    await dns.resolve("example.org", "A");
    expect(server.requests).toHaveLength(2);
  });

  it("caches NXDOMAIN for the SOA's negative TTL (RFC 2308), capped", async () => {
    const server = fakeServer({
      "gone.example.org TXT": { Status: 3, Authority: [soa(3600, 120)] },
      "long.example.org TXT": { Status: 3, Authority: [soa(86_400, 86_400)] },
    });
    const time = clock();
    const dns = new DohResolver({ fetch: server.fetch, cache: new DnsCache(10), now: time.now });
    expect(await dns.resolve("gone.example.org", "TXT")).toEqual([]);
    time.advance(119);
    expect(await dns.resolve("gone.example.org", "TXT")).toEqual([]);
    expect(server.requests).toHaveLength(1);
    time.advance(1);
    await dns.resolve("gone.example.org", "TXT");
    expect(server.requests).toHaveLength(2);

    await dns.resolve("long.example.org", "TXT");
    time.advance(DNS_NEGATIVE_CACHE_MAX_TTL_SECONDS);
    await dns.resolve("long.example.org", "TXT");
    expect(server.requests).toHaveLength(4);
  });

  it(`caches "no records of this type" too, for DNS_NEGATIVE_CACHE_DEFAULT_TTL_SECONDS without an SOA`, async () => {
    const server = fakeServer({ "example.org AAAA": { Status: 0, Answer: [{ type: 5, TTL: 300, data: "other.example.org." }] } });
    const time = clock();
    const dns = new DohResolver({ fetch: server.fetch, cache: new DnsCache(10), now: time.now });
    expect(await dns.resolve("example.org", "AAAA")).toEqual([]);
    time.advance(DNS_NEGATIVE_CACHE_DEFAULT_TTL_SECONDS - 1);
    await dns.resolve("example.org", "AAAA");
    expect(server.requests).toHaveLength(1);
    time.advance(1);
    await dns.resolve("example.org", "AAAA");
    expect(server.requests).toHaveLength(2);
  });

  it("drops the least recently used answer when the cache is full", async () => {
    const server = fakeServer({
      "a.example A": { Status: 0, Answer: [{ type: 1, TTL: 300, data: "192.0.2.1" }] },
      "b.example A": { Status: 0, Answer: [{ type: 1, TTL: 300, data: "192.0.2.2" }] },
      "c.example A": { Status: 0, Answer: [{ type: 1, TTL: 300, data: "192.0.2.3" }] },
    });
    const cache = new DnsCache(2);
    const dns = new DohResolver({ fetch: server.fetch, cache, now: clock().now });
    await dns.resolve("a.example", "A");
    await dns.resolve("b.example", "A");
    await dns.resolve("a.example", "A"); // a is now the most recent
    await dns.resolve("c.example", "A"); // evicts b
    expect(cache.size).toBe(2);
    await dns.resolve("a.example", "A");
    await dns.resolve("b.example", "A");
    expect(server.requests.map((r) => r.url.searchParams.get("name"))).toEqual(["a.example", "b.example", "c.example", "b.example"]);
  });

  it("sends one request for concurrent identical questions", async () => {
    const server = fakeServer({ "example.org A": { Status: 0, Answer: [{ type: 1, TTL: 300, data: "192.0.2.1" }] } });
    const dns = new DohResolver({ fetch: server.fetch, cache: null });
    const answers = await Promise.all([dns.resolve("example.org", "A"), dns.resolve("EXAMPLE.org.", "A"), dns.resolve("example.org", "A")]);
    expect(answers).toEqual([["192.0.2.1"], ["192.0.2.1"], ["192.0.2.1"]]);
    expect(server.requests).toHaveLength(1);
  });

  it("answers names that cannot exist without asking", async () => {
    const server = fakeServer({});
    const dns = new DohResolver({ fetch: server.fetch, cache: null });
    expect(await dns.resolve(`${"a".repeat(64)}.example`, "TXT")).toEqual([]);
    expect(await dns.resolve("a..example", "TXT")).toEqual([]);
    expect(await dns.resolve(`${"abcdefgh.".repeat(30)}example`, "TXT")).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  describe("DNS errors", () => {
    const failures: [string, unknown | (() => unknown), RegExp][] = [
      ["SERVFAIL", { Status: 2 }, /SERVFAIL/],
      ["REFUSED", { Status: 5 }, /RCODE 5/],
      ["an HTTP error", () => new Response("busy", { status: 503 }), /HTTP 503/],
      ["a body that is not JSON", () => new Response("<html>", { status: 200 }), /not JSON/],
      ["an answer without a status", { Answer: [] }, /no status/],
      ["records that are not records", { Status: 0, Answer: [{ type: 16, data: "x" }] }, /malformed/],
      ["an Answer that is not a list", { Status: 0, Answer: "v=spf1 -all" }, /malformed/],
      ["a body over MAX_DOH_RESPONSE_BYTES", () => new Response("x".repeat(MAX_DOH_RESPONSE_BYTES + 1)), /could not be read/],
    ];

    it.each(failures)("throws DnsError for %s, and does not cache it", async (_, answer, message) => {
      const server = fakeServer({ "example.org TXT": answer });
      const dns = new DohResolver({ fetch: server.fetch, cache: new DnsCache(10), now: clock().now });
      await expect(dns.resolve("example.org", "TXT")).rejects.toSatisfy((e) => e instanceof DnsError && message.test(e.message));
      await expect(dns.resolve("example.org", "TXT")).rejects.toBeInstanceOf(DnsError);
      expect(server.requests).toHaveLength(2);
    });

    it("throws DnsError when the network fails", async () => {
      const dns = new DohResolver({
        fetch: async () => {
          throw new TypeError("connection reset");
        },
        cache: null,
      });
      await expect(dns.resolve("example.org", "A")).rejects.toThrow(/failed: connection reset/);
    });

    it("gives up after the timeout, aborting the request, even if fetch ignores the signal", async () => {
      let aborted = false;
      const hang: DohFetch = (_url, init) =>
        new Promise(() => {
          init.signal.addEventListener("abort", () => (aborted = true));
        });
      const dns = new DohResolver({ fetch: hang, timeoutMs: 30, cache: null });
      const started = Date.now();
      await expect(dns.resolve("slow.example", "TXT")).rejects.toThrow(/timed out after 30 ms/);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(aborted).toBe(true);
    });
  });

  it("refuses invalid options instead of falling back to defaults", () => {
    expect(() => new DohResolver({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => new DohResolver({ timeoutMs: 1.5 })).toThrow(RangeError);
    expect(() => new DohResolver({ endpoint: "ftp://dns.example/" })).toThrow(RangeError);
    expect(() => new DnsCache(0)).toThrow(RangeError);
  });
});
