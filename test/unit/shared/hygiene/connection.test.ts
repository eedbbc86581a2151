import { describe, expect, it } from "vitest";
import { parseConnection } from "../../../../shared/hygiene/connection.ts";
import { bytesOf } from "../../../helpers/mail.ts";

const CF_BLOCK = [
  "Received: from mail.sender.example (203.0.113.7) by cloudflare-email.net (unknown) id 4fX; Sat, 21 Nov 2026 09:00:00 +0000",
  "ARC-Seal: i=1; a=rsa-sha256; d=cloudflare-email.net; s=2024; cv=none; b=abc",
  "ARC-Authentication-Results: i=1; mx.cloudflare.net;",
  "\tdkim=pass header.d=sender.example; dmarc=pass header.from=sender.example;",
  "\tspf=pass (mx.cloudflare.net: domain of a@sender.example designates 203.0.113.7 as permitted sender) smtp.mailfrom=a@sender.example; smtp.remote-ip=203.0.113.7",
  "Received-SPF: pass (mx.cloudflare.net: domain of a@sender.example designates 203.0.113.7 as permitted sender) receiver=mx.cloudflare.net; client-ip=203.0.113.7",
  "Authentication-Results: mx.cloudflare.net; dkim=pass header.d=sender.example; dmarc=pass header.from=sender.example; spf=pass smtp.mailfrom=a@sender.example",
];
const BODY = ["From: a@sender.example", "To: alice@example.com", "Subject: hi", "Message-ID: <x@sender.example>", "", "hello"];
const message = (...lines: string[]) => bytesOf(lines.join("\r\n"));

describe("parseConnection", () => {
  it("reads the client IP, HELO and Cloudflare's verdicts from the top-most stamp", () => {
    expect(parseConnection(message(...CF_BLOCK, ...BODY))).toEqual({
      ip: "203.0.113.7",
      helo: "mail.sender.example",
      cloudflare: { dkim: "pass", dmarc: "pass", spf: "pass" },
    });
  });

  it("reads field names in any case and with white space around them, and steps over other fields", () => {
    const renamed = CF_BLOCK.map((l) => l.replace(/^Received:/, "RECEIVED :").replace(/^Authentication-Results:/, " authentication-RESULTS\t:"));
    expect(parseConnection(message("X-Received: from elsewhere (192.0.2.9)", "X-Note:", "\tfolded", ...renamed, ...BODY))).toEqual({
      ip: "203.0.113.7",
      helo: "mail.sender.example",
      cloudflare: { dkim: "pass", dmarc: "pass", spf: "pass" },
    });
  });

  it("ignores a forged Cloudflare block below a foreign Received", () => {
    const forged = message(
      "Received: from relay.attacker.example (198.51.100.66) by mx.attacker.example; Sat, 21 Nov 2026 08:59:00 +0000",
      ...CF_BLOCK.map((l) => l.replace(/203\.0\.113\.7/g, "192.0.2.1")),
      ...BODY,
    );
    expect(parseConnection(forged)).toEqual({ ip: null, helo: null, cloudflare: null });
  });

  it("takes only the top-most block when the sender adds a fake one further down", () => {
    const raw = message(
      ...CF_BLOCK,
      "Received: from fake (192.0.2.99) by cloudflare-email.net",
      "Authentication-Results: mx.cloudflare.net; spf=fail",
      ...BODY,
    );
    // The second "Cloudflare" Received is still above any foreign one, so it counts as stamped, but the first IP wins.
    expect(parseConnection(raw).ip).toBe("203.0.113.7");
  });

  it("falls back to smtp.remote-ip and client-ip, and reads IPv6", () => {
    const raw = message("ARC-Authentication-Results: i=1; mx.cloudflare.net; spf=none smtp.remote-ip=2001:db8::25", ...BODY);
    expect(parseConnection(raw)).toMatchObject({ ip: "2001:db8::25", cloudflare: { spf: "none" } });
  });

  it("is unknown, not guessed, when there is no stamp (the local simulator adds none)", () => {
    expect(parseConnection(message("Received: from x (192.0.2.5) by mx.example.net", ...BODY))).toEqual({ ip: null, helo: null, cloudflare: null });
    expect(parseConnection(message(...BODY))).toEqual({ ip: null, helo: null, cloudflare: null });
    expect(parseConnection(new Uint8Array([0, 1, 2, 255]))).toEqual({ ip: null, helo: null, cloudflare: null });
  });

  it("reads field names in any case and spacing, past folded fields it does not need", () => {
    const raw = message(
      "X-Folded: one",
      "\tand two",
      "RECEIVED : from mail.sender.example (203.0.113.7) by Cloudflare-Email.net (unknown) id 4fX",
      "authentication-results:mx.cloudflare.net; spf=pass smtp.mailfrom=a@sender.example",
      ...BODY,
    );
    expect(parseConnection(raw)).toEqual({ ip: "203.0.113.7", helo: "mail.sender.example", cloudflare: { spf: "pass" } });
  });

  it("refuses an IP that is not an IP", () => {
    const raw = message("Received: from evil (not-an-ip; DROP) by cloudflare-email.net", ...BODY);
    expect(parseConnection(raw).ip).toBeNull();
  });
});
