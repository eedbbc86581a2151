import { describe, expect, it } from "vitest";
import { DirectoryKey, toHex } from "../../../shared/directory/hash.ts";
import { memoryDirectory } from "../../../shared/directory/memory.ts";
import { POLICY_NAMES, policyForEdge, PolicyError, readPolicy, validatePolicy } from "../../../shared/policy.ts";

describe("policy validation", () => {
  it("accepts a well-formed document of every kind", () => {
    const good = {
      thresholds: { reject: 7, quarantine: 5, tag: 3 },
      "ip-lists": { allow: [{ cidr: "192.0.2.0/24" }], block: [{ cidr: "2001:db8::/32", expiresAt: "2026-12-31T00:00:00Z", note: "abuse" }] },
      "sender-lists": { blockedSenders: ["spam@bad.example"], blockedDomains: ["bad.example"], blankSender: "accept" },
      "safe-senders": { global: ["@partner.example"], perRecipient: { "alice@example.com": ["mum@family.example"] } },
      attachments: { blockedExtensions: ["exe", "js"], blockedContentTypes: ["application/x-msdownload"], blockEncryptedArchives: true, blockMacros: true },
      hubs: [{ id: "hub-a", transport: "binding", binding: "HUB", priority: 10, weight: 50, maxConcurrency: 20 }],
      delivery: { attemptTimeoutMs: 5000, budgetMs: 15000, retryBaseSeconds: 120, expireAfterSeconds: 86400 },
      malware: { blockedSha256: ["a".repeat(64)] },
      "content-model": { version: "PCB1-test", model: "AAAA" },
      "relay-clients": [
        { id: "sharepoint", name: "SharePoint", keyHash: "a".repeat(64), allowedIps: ["10.0.0.0/8"], allowedSenders: ["@example.com"], ratePerMinute: 600 },
        {
          id: "crm",
          name: "CRM",
          keyHash: "b".repeat(64),
          allowedIps: ["2001:db8::/32"],
          allowedSenders: ["crm@example.com"],
          ratePerMinute: 10,
          maxMessageBytes: 1_048_576,
          createdAt: "2026-11-21T09:00:00Z",
        },
      ],
      relay: { sendConnector: { type: "smarthost", url: "https://smarthost.example.com/relay" } },
    };
    expect(Object.keys(good).sort()).toEqual([...POLICY_NAMES].sort());
    for (const [name, value] of Object.entries(good)) expect(validatePolicy(name as keyof typeof good, value)).toEqual({ ok: true, value });
  });

  it.each([
    ["thresholds", { reject: 10, quarantine: 5, tag: 3 }, /reject/],
    ["thresholds", { reject: 5, quarantine: 7, tag: 3 }, /tag ≤ quarantine ≤ reject/],
    ["thresholds", { reject: 7, quarantine: 5, tag: 3, extra: 1 }, /extra/i],
    ["ip-lists", { allow: [{ cidr: "999.0.0.0/8" }], block: [] }, /allow\.0\.cidr/],
    ["sender-lists", { blockedSenders: ["not an address"], blockedDomains: [], blankSender: "accept" }, /blockedSenders\.0/],
    ["sender-lists", { blockedSenders: [], blockedDomains: [], blankSender: "maybe" }, /blankSender/],
    ["hubs", [{ id: "Hub A", transport: "binding", priority: 1, weight: 1, maxConcurrency: 1 }], /0\.id/],
    ["hubs", [{ id: "hub-a", transport: "https", url: "http://insecure.example", priority: 1, weight: 1, maxConcurrency: 1 }], /url/],
    ["delivery", { budgetMs: 60_000 }, /budgetMs/],
    ["delivery", { retryBaseSecs: 60 }, /retryBaseSecs|Unrecognized/],
    ["relay-clients", [{ id: "x", name: "X", keyHash: "plain-text-key", allowedIps: [], allowedSenders: [], ratePerMinute: 1 }], /keyHash/],
    [
      "relay-clients",
      [{ id: "x", name: "X", keyHash: "a".repeat(64), allowedIps: [], allowedSenders: [], ratePerMinute: 1, maxMessageBytes: 100 }],
      /maxMessageBytes/,
    ],
    [
      "relay-clients",
      [
        { id: "x", name: "X", keyHash: "a".repeat(64), allowedIps: [], allowedSenders: [], ratePerMinute: 1 },
        { id: "y", name: "Y", keyHash: "a".repeat(64), allowedIps: [], allowedSenders: [], ratePerMinute: 1 },
      ],
      /keys must be unique/,
    ],
    ["relay", { sendConnector: { type: "smarthost", url: "http://smarthost.example.com" } }, /sendConnector\.url/],
    ["relay", { sendConnector: { type: "carrier-pigeon" } }, /sendConnector\.type/],
  ] as const)("refuses a bad %s document, naming the field", (name, value, message) => {
    const result = validatePolicy(name, value);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join("; ")).toMatch(message);
  });
});

describe("policies at the edge", () => {
  it("keys per-recipient safe senders by keyed hash, never by address", async () => {
    const key = await DirectoryKey.import("unit-test-directory-key-0123456789");
    const edge = (await policyForEdge("safe-senders", { global: [], perRecipient: { "Alice@Example.com": ["mum@family.example"] } }, key)) as {
      perRecipient: Record<string, string[]>;
    };
    expect(Object.keys(edge.perRecipient)).toEqual([toHex(await key.hashAddress("alice@example.com"))]);
    expect(JSON.stringify(edge)).not.toMatch(/alice/i);
  });

  it("reads a policy typed, null when absent, and refuses a malformed one", async () => {
    const directory = await memoryDirectory({
      domains: [],
      recipients: [],
      policies: { thresholds: { reject: 8, quarantine: 6, tag: 4 }, attachments: { blockedExtensions: "exe" } },
    });
    const thresholds = await readPolicy(directory, "thresholds");
    expect(thresholds?.reject).toBe(8);
    expect(await readPolicy(directory, "hubs")).toBeNull();
    await expect(readPolicy(directory, "attachments")).rejects.toThrow(PolicyError);
  });
});
