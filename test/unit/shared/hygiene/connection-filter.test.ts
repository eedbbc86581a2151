import { describe, expect, it } from "vitest";
import { DnsError, type Resolver } from "../../../../shared/dns.ts";
import { memoryDirectory } from "../../../../shared/directory/memory.ts";
import { connectionFilter, dnsblName } from "../../../../shared/hygiene/agents/connection-filter.ts";
import { limits } from "../../../../shared/hygiene/agents/limits.ts";
import { senderFilter } from "../../../../shared/hygiene/agents/sender-filter.ts";
import { runPipeline } from "../../../../shared/hygiene/pipeline.ts";
import type { ConnectionInfo } from "../../../../shared/hygiene/types.ts";
import { parseIp } from "../../../../shared/net/cidr.ts";
import { buildMessage, bytesOf } from "../../../helpers/mail.ts";

const NOW = Date.parse("2026-11-21T09:00:00Z");
const ipLists = {
  allow: [{ cidr: "192.0.2.0/24" }, { cidr: "198.51.100.0/24", expiresAt: "2026-11-01T00:00:00Z" }],
  block: [{ cidr: "203.0.113.0/24" }, { cidr: "2001:db8:bad::/48" }, { cidr: "198.18.0.0/15", expiresAt: "2026-01-01T00:00:00Z" }],
  dnsbl: ["bl.example", "slow.example"],
};
const directory = await memoryDirectory({
  domains: ["example.com"],
  recipients: ["alice@example.com"],
  policies: { "ip-lists": ipLists, "sender-lists": { blockedSenders: ["spam@bad.example"], blockedDomains: ["junk.example"], blankSender: "accept" } },
});

function stubDns(listed: Set<string>, failing = new Set<string>()): Resolver & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    async resolve(name) {
      queries.push(name);
      if ([...failing].some((zone) => name.endsWith(zone))) throw new DnsError("timeout");
      return listed.has(name) ? ["127.0.0.2"] : [];
    },
  };
}

async function run(ip: string | null, options: { dns?: Resolver | null; from?: string; headerFrom?: string } = {}) {
  const connection: ConnectionInfo = { ip, helo: null, cloudflare: null };
  return runPipeline(
    {
      envelope: { from: options.from ?? "sender@example.net", to: ["alice@example.com"] },
      raw: bytesOf(buildMessage({ from: options.headerFrom })),
      connection,
    },
    { directory, dns: options.dns ?? null, now: () => NOW },
    { agents: [limits, connectionFilter, senderFilter] },
  );
}

describe("connection filter", () => {
  it("refuses a blocked IP with 550 5.7.1, IPv4 and IPv6", async () => {
    expect((await run("203.0.113.9")).smtp).toMatch(/^550 5\.7\.1 /);
    expect((await run("2001:db8:bad::1")).reason).toEqual({ reason: "blocked_ip", list: "ip-block" });
  });

  it("lets an allow-listed IP skip content filtering (SCL -1)", async () => {
    const result = await run("192.0.2.10");
    expect(result.action).toBe("accept");
    expect(result.agents.find((a) => a.agent === "connection-filter")?.reason).toBe("IP allow list");
  });

  it("ignores expired entries", async () => {
    expect((await run("198.18.0.1")).action).toBe("accept");
    expect((await run("198.51.100.1")).agents.find((a) => a.agent === "connection-filter")?.reason).not.toBe("IP allow list");
  });

  it("asks DNS block lists over the injected resolver and refuses a listed IP", async () => {
    const dns = stubDns(new Set(["9.1.0.10.bl.example"]));
    const result = await run("10.0.1.9", { dns });
    expect(result.reason).toEqual({ reason: "blocked_ip", list: "bl.example" });
    expect(dns.queries).toContain("9.1.0.10.bl.example");
  });

  it("fails open when a block list does not answer, and says so", async () => {
    const result = await run("10.0.1.9", { dns: stubDns(new Set(), new Set(["slow.example"])) });
    expect(result.action).toBe("accept");
    expect(result.agents.find((a) => a.agent === "connection-filter")?.reason).toMatch(/no answer from slow\.example \(fail open\)/);
  });

  it("ignores the lists' own error answers (127.255.255.x)", async () => {
    const dns: Resolver = { resolve: async () => ["127.255.255.254"] };
    expect((await run("10.0.1.9", { dns })).action).toBe("accept");
  });

  it("skips block lists offline and when the client IP is unknown", async () => {
    expect((await run("10.0.1.9", { dns: null })).agents.find((a) => a.agent === "connection-filter")?.reason).toMatch(/offline/);
    expect((await run(null)).agents.find((a) => a.agent === "connection-filter")).toMatchObject({ result: "skip" });
  });

  it("builds reversed DNSBL names for IPv4 and IPv6", () => {
    expect(dnsblName(parseIp("192.0.2.99")!, "zen.example")).toBe("99.2.0.192.zen.example");
    expect(dnsblName(parseIp("2001:db8::1")!, "bl.example")).toBe(`1.${"0.".repeat(23)}8.b.d.0.1.0.0.2.bl.example`);
  });
});

describe("sender filter", () => {
  it("refuses blocked senders and domains (with subdomains), envelope or From:", async () => {
    expect((await run(null, { from: "spam@bad.example" })).reason).toEqual({ reason: "blocked_sender" });
    expect((await run(null, { from: "x@mail.junk.example" })).smtp).toMatch(/^550 5\.7\.1 /);
    expect((await run(null, { headerFrom: "Boss <ceo@junk.example>" })).reason).toEqual({ reason: "blocked_sender" });
    expect((await run(null, { from: "x@notjunk.example" })).action).toBe("accept");
  });

  it("accepts the null sender by default and refuses it when the policy says so", async () => {
    expect((await run(null, { from: "" })).action).toBe("accept");
    const strict = await memoryDirectory({
      domains: ["example.com"],
      recipients: ["alice@example.com"],
      policies: { "sender-lists": { blockedSenders: [], blockedDomains: [], blankSender: "reject" } },
    });
    const result = await runPipeline(
      { envelope: { from: "", to: ["alice@example.com"] }, raw: bytesOf(buildMessage()) },
      { directory: strict },
      { agents: [limits, senderFilter] },
    );
    expect(result.reason).toEqual({ reason: "blank_sender" });
  });
});
