import { describe, expect, it } from "vitest";
import { formatReply, smtpReply } from "../../../shared/smtp.ts";
import type { RejectReason } from "../../../shared/verdict.ts";

describe("smtp replies", () => {
  const cases: [RejectReason, string][] = [
    [{ reason: "unknown_recipient" }, "550 5.1.1"],
    [{ reason: "relay_denied", domain: "elsewhere.example" }, "550 5.7.1"],
    [{ reason: "recipient_restricted" }, "550 5.7.1"],
    [{ reason: "blocked_ip", list: "block" }, "550 5.7.1"],
    [{ reason: "blocked_sender" }, "550 5.7.1"],
    [{ reason: "blank_sender" }, "550 5.7.1"],
    [{ reason: "dmarc_policy", domain: "x.example", policy: "reject" }, "550 5.7.1"],
    [{ reason: "spam", scl: 9 }, "550 5.7.1"],
    [{ reason: "blocked_attachment", detail: "exe" }, "550 5.7.1"],
    [{ reason: "malware", name: "EICAR" }, "554 5.7.1"],
    [{ reason: "too_large", size: 30_000_000, max: 26_214_400 }, "552 5.3.4"],
    [{ reason: "headers_too_large", max: 1 }, "552 5.3.4"],
    [{ reason: "too_many_headers", count: 20000, max: 1000 }, "552 5.3.4"],
    [{ reason: "nesting_too_deep", max: 1 }, "554 5.6.0"],
    [{ reason: "too_many_parts", count: 5000, max: 2000 }, "554 5.6.0"],
    [{ reason: "malformed", detail: "x" }, "554 5.6.0"],
    [{ reason: "too_many_recipients", count: 101, max: 100 }, "452 4.5.3"],
    [{ reason: "bad_address", address: "x" }, "553 5.1.3"],
    [{ reason: "directory_unavailable", detail: "x" }, "451 4.3.0"],
    [{ reason: "hub_unavailable", detail: "x" }, "451 4.4.1"],
    [{ reason: "agent_failed", agent: "a", detail: "x" }, "451 4.3.0"],
  ];

  it.each(cases)("maps %j to %s", (reason, prefix) => {
    expect(formatReply(smtpReply(reason))).toMatch(new RegExp(`^${prefix} \\S`));
  });

  it("never names the rule or the data that fired in public text", () => {
    const text = formatReply(smtpReply({ reason: "relay_denied", domain: "secret-domain.example" }));
    expect(text).not.toContain("secret-domain");
    expect(formatReply(smtpReply({ reason: "malformed", detail: "internal parser detail" }))).not.toContain("internal parser detail");
  });

  it("uses 4xx exactly for the temporary reasons", () => {
    for (const [reason] of cases) {
      const temporary = ["directory_unavailable", "hub_unavailable", "agent_failed", "too_many_recipients"].includes(reason.reason);
      expect(smtpReply(reason).code >= 400 && smtpReply(reason).code < 500).toBe(temporary);
    }
  });
});
