import { describe, expect, it } from "vitest";
import { DnsError } from "../../../../shared/dns.ts";
import { StubResolver } from "../../../../shared/dns/stub.ts";

describe("StubResolver", () => {
  it("answers from its records, matching names without case or the root dot", async () => {
    const dns = new StubResolver({ "Example.org.": { TXT: ["v=spf1 -all"], MX: ["10 mx.example.org"] } });
    expect(await dns.resolve("example.ORG", "TXT")).toEqual(["v=spf1 -all"]);
    expect(await dns.resolve("example.org.", "MX")).toEqual(["10 mx.example.org"]);
    expect(await dns.resolve("example.org", "A")).toEqual([]);
    expect(await dns.resolve("nowhere.example", "TXT")).toEqual([]);
    expect(dns.queries).toEqual([
      { name: "example.org", type: "TXT" },
      { name: "example.org", type: "MX" },
      { name: "example.org", type: "A" },
      { name: "nowhere.example", type: "TXT" },
    ]);
  });

  it("adds, replaces and fails records", async () => {
    const dns = new StubResolver({}, { failing: ["Broken.example"] });
    dns.add("a.example", "A", "192.0.2.1").add("a.example", "A", "192.0.2.2");
    expect(await dns.resolve("a.example", "A")).toEqual(["192.0.2.1", "192.0.2.2"]);
    dns.set("a.example", "A", "192.0.2.3");
    expect(await dns.resolve("a.example", "A")).toEqual(["192.0.2.3"]);
    await expect(dns.resolve("broken.example", "TXT")).rejects.toBeInstanceOf(DnsError);
    dns.fail("a.example");
    await expect(dns.resolve("a.example", "A")).rejects.toBeInstanceOf(DnsError);
  });

  it("hands out copies, so callers cannot change its records", async () => {
    const dns = new StubResolver({ "example.org": { A: ["192.0.2.1"] } });
    (await dns.resolve("example.org", "A")).push("198.51.100.1");
    expect(await dns.resolve("example.org", "A")).toEqual(["192.0.2.1"]);
  });
});
