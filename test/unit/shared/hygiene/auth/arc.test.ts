import { describe, expect, it } from "vitest";
import { type ArcOutcome, arcOverride, TRUSTED_ARC_SEALERS } from "../../../../../shared/hygiene/auth/arc.ts";

const chain = (overrides: Partial<ArcOutcome> = {}): ArcOutcome => ({
  result: "pass",
  instances: 2,
  sealers: ["google.com", "cloudflare-email.net"],
  firstDmarc: { result: "pass", from: "Example.org" },
  ...overrides,
});

describe("ARC override of a DMARC failure", () => {
  it("trusts mailauth's community sealers and Cloudflare Email Routing", () => {
    expect(TRUSTED_ARC_SEALERS).toEqual(expect.arrayContaining(["google.com", "microsoft.com", "fastmail.com", "cloudflare-email.net"]));
  });

  it("allows it when every sealer is trusted and the earliest hop saw dmarc=pass for the same From domain", () => {
    expect(arcOverride(chain(), "example.org")).toBe("i=1 google.com said dmarc=pass");
    expect(arcOverride(chain({ sealers: ["lists.googlegroups.com"] }), "example.org")).toBe("i=1 lists.googlegroups.com said dmarc=pass");
  });

  it.each<[string, Partial<ArcOutcome>, string | null]>([
    ["the chain does not validate", { result: "fail" }, "example.org"],
    ["the chain could not be checked", { result: "temperror" }, "example.org"],
    ["there is no chain", { result: "none", instances: 0, sealers: [], firstDmarc: null }, "example.org"],
    ["a sealer is not trusted", { sealers: ["google.com", "relay.example.net", "cloudflare-email.net"] }, "example.org"],
    ["a look-alike sealer", { sealers: ["notgoogle.com"] }, "example.org"],
    ["the earliest hop saw dmarc=fail", { firstDmarc: { result: "fail", from: "example.org" } }, "example.org"],
    ["the earliest hop judged another From domain", { firstDmarc: { result: "pass", from: "example.net" } }, "example.org"],
    ["the earliest hop said nothing about DMARC", { firstDmarc: null }, "example.org"],
    ["the message has no single From domain", {}, null],
  ])("refuses it when %s", (_, overrides, author) => {
    expect(arcOverride(chain(overrides), author)).toBeNull();
  });
});
