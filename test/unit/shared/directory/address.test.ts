import { describe, expect, it } from "vitest";
import { normaliseAddress, normaliseDomain, withoutSubaddress } from "../../../../shared/directory/address.ts";

describe("normaliseAddress", () => {
  it.each([
    ["alice@example.com", "alice@example.com"],
    ["Alice@Example.COM", "alice@example.com"],
    ["<bob@example.com>", "bob@example.com"],
    ["  bob@example.com. ", "bob@example.com"],
    ["a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk"],
    ['"quoted"@example.com', '"quoted"@example.com'],
  ])("%s → %s", (input, expected) => {
    expect(normaliseAddress(input)).toBe(expected);
  });

  it.each([
    [""],
    ["no-at-sign"],
    ["@example.com"],
    ["alice@"],
    ["al ice@example.com"],
    ["alice@exa mple.com"],
    ["alice@example.com\r\nRCPT TO:<x@y>"],
    ["a\u0000@example.com"],
    [`${"a".repeat(300)}@example.com`],
    ["alice@-bad-.com"],
  ])("refuses %j", (input) => {
    expect(normaliseAddress(input)).toBeNull();
  });
});

describe("normaliseDomain", () => {
  it("lower-cases and drops a trailing dot", () => {
    expect(normaliseDomain("Example.COM.")).toBe("example.com");
  });
  it("accepts punycode and refuses junk", () => {
    expect(normaliseDomain("xn--bcher-kva.example")).toBe("xn--bcher-kva.example");
    expect(normaliseDomain("exa$mple.com")).toBeNull();
    expect(normaliseDomain("")).toBeNull();
  });
});

describe("withoutSubaddress", () => {
  it("strips a +tag from the local part only", () => {
    expect(withoutSubaddress("alice+news@example.com")).toBe("alice@example.com");
    expect(withoutSubaddress("alice@example.com")).toBeNull();
    expect(withoutSubaddress("+x@example.com")).toBeNull();
    expect(withoutSubaddress("alice@ex+ample.com")).toBeNull();
  });
});
