import { describe, expect, it } from "vitest";
import { StubResolver } from "../../../../../shared/dns/stub.ts";
import { AuthDns } from "../../../../../shared/hygiene/auth/resolver.ts";

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return "answered";
};

describe("AuthDns (the Resolver as mailauth's resolver callback)", () => {
  const stub = () =>
    new StubResolver(
      {
        "example.org": { TXT: ["v=spf1 -all"], MX: ["20 mx2.example.org", "10 mx1.example.org."], A: ["192.0.2.1"] },
        "1.2.0.192.in-addr.arpa": { PTR: ["mx1.example.org"] },
      },
      { failing: ["broken.example"] },
    );

  it("answers in node:dns shapes: TXT as string chunks, MX as objects", async () => {
    const dns = new AuthDns(stub());
    expect(await dns.resolve("example.org", "TXT")).toEqual([["v=spf1 -all"]]);
    expect(await dns.resolve("example.org", "MX")).toEqual([
      { priority: 20, exchange: "mx2.example.org" },
      { priority: 10, exchange: "mx1.example.org" },
    ]);
    expect(await dns.resolve("example.org", "A")).toEqual(["192.0.2.1"]);
    expect(await dns.resolve("1.2.0.192.in-addr.arpa", "PTR")).toEqual(["mx1.example.org"]);
  });

  it("reports no records as ENODATA and a DNS failure as a temporary error", async () => {
    const dns = new AuthDns(stub());
    expect(await codeOf(dns.resolve("nowhere.example", "TXT"))).toBe("ENODATA");
    expect(await codeOf(dns.resolve("broken.example", "TXT"))).toBe("ESERVFAIL");
    expect(await codeOf(dns.resolve("example.org", "SRV"))).toBe("ENOTIMP");
    expect(dns.failed("Broken.Example.")).toBe(true);
    expect(dns.failed("nowhere.example")).toBe(false);
  });

  it("asks each question once per message and hands out fresh copies", async () => {
    const resolver = stub();
    const dns = new AuthDns(resolver);
    const first = (await dns.resolve("example.org", "MX")) as { priority: number }[];
    first.sort((a, b) => a.priority - b.priority);
    expect(await dns.resolve("Example.org.", "MX")).toEqual([
      { priority: 20, exchange: "mx2.example.org" },
      { priority: 10, exchange: "mx1.example.org" },
    ]);
    await dns.resolve("example.org", "mx");
    expect(resolver.queries).toHaveLength(1);
    expect(dns.lookups).toBe(1);
  });

  it("stops asking past its lookup cap, with an error mailauth treats as temporary", async () => {
    const resolver = stub();
    const dns = new AuthDns(resolver, { maxLookups: 2 });
    await dns.resolve("example.org", "TXT");
    await dns.resolve("example.org", "A");
    expect(await codeOf(dns.resolve("example.org", "MX"))).toBe("ELOOKUPLIMIT");
    expect(resolver.queries).toHaveLength(2);
    // Questions already answered are still answered.
    expect(await dns.resolve("example.org", "TXT")).toEqual([["v=spf1 -all"]]);
  });

  it("stops asking once its time budget is spent", async () => {
    let now = 0;
    const resolver = stub();
    const dns = new AuthDns(resolver, { budgetMs: 100, clock: () => now });
    await dns.resolve("example.org", "TXT");
    expect(dns.remainingMs()).toBe(100);
    now = 100;
    expect(dns.remainingMs()).toBe(0);
    expect(await codeOf(dns.resolve("example.org", "A"))).toBe("ETIMEOUT");
    expect(resolver.queries).toHaveLength(1);
  });

  it("refuses invalid limits", () => {
    expect(() => new AuthDns(stub(), { maxLookups: 0 })).toThrow(RangeError);
    expect(() => new AuthDns(stub(), { budgetMs: -1 })).toThrow(RangeError);
  });
});
