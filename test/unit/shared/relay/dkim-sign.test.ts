import { describe, expect, it } from "vitest";
import { DkimKeyError, DkimKeyring } from "../../../../shared/relay/dkim-keys.ts";
import { dkimSign, DkimSignError } from "../../../../shared/relay/dkim-sign.ts";
import { newDkimKey, verifyWithRecords } from "../../../helpers/dkim-keys.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const MESSAGE = [
  "From: App <app@example.com>",
  "To: alice@example.com",
  "Subject: Weekly   report",
  "Date: Sat, 21 Nov 2026 09:00:00 +0000",
  "Message-ID: <r1@example.com>",
  "MIME-Version: 1.0",
  "Content-Type: text/plain; charset=utf-8",
  "",
  "Hello  Alice, ",
  "",
  "",
].join("\r\n");

describe("dkimSign", async () => {
  const rsa = await newDkimKey("rsa");
  const ed = await newDkimKey("ed25519");
  const records = { "rsa1._domainkey.example.com": rsa.record, "ed1._domainkey.example.com": ed.record };
  const ring = await DkimKeyring.parse(
    JSON.stringify({
      "example.com": [
        { selector: "rsa1", algorithm: "rsa-sha256", privateKey: rsa.pem },
        { selector: "ed1", algorithm: "ed25519-sha256", privateKey: ed.base64 },
      ],
    }),
  );

  it("signs with rsa-sha256 and ed25519-sha256, and the project's verifier passes both", async () => {
    const { raw, signatures } = await dkimSign(enc.encode(MESSAGE), ring.keysFor("app@example.com"));
    expect(signatures).toEqual([
      { domain: "example.com", selector: "rsa1", algorithm: "rsa-sha256" },
      { domain: "example.com", selector: "ed1", algorithm: "ed25519-sha256" },
    ]);
    const text = dec.decode(raw);
    expect(text).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example.com;[\s\S]*\r\nDKIM-Signature: v=1; a=ed25519-sha256;/);
    expect(text.endsWith(MESSAGE)).toBe(true);
    expect(await verifyWithRecords(raw, records)).toEqual([
      ["example.com", "pass"],
      ["example.com", "pass"],
    ]);
  });

  it("fails verification once the body or a signed header changes after signing", async () => {
    const { raw } = await dkimSign(enc.encode(MESSAGE), ring.keysFor("app@example.com"));
    const tamperedBody = enc.encode(dec.decode(raw).replace("Hello  Alice", "Hello Mallory"));
    expect((await verifyWithRecords(tamperedBody, records)).map(([, r]) => r)).toEqual(["neutral", "neutral"]);
    const tamperedSubject = enc.encode(dec.decode(raw).replace("Weekly   report", "Invoice"));
    expect((await verifyWithRecords(tamperedSubject, records)).map(([, r]) => r)).toEqual(["fail", "fail"]);
  });

  it("survives relaxed changes in transit (white space, header case)", async () => {
    const { raw } = await dkimSign(enc.encode(MESSAGE), ring.keysFor("app@example.com"));
    const reformatted = enc.encode(dec.decode(raw).replace("Subject: Weekly   report", "subject:  Weekly report").replace("Hello  Alice, ", "Hello Alice,"));
    expect((await verifyWithRecords(reformatted, records)).map(([, r]) => r)).toEqual(["pass", "pass"]);
  });

  it("returns the message unchanged without keys, and refuses to sign a message without From", async () => {
    const raw = enc.encode(MESSAGE);
    expect((await dkimSign(raw, [])).raw).toBe(raw);
    await expect(dkimSign(enc.encode(MESSAGE.replace(/^From: .*\r\n/, "")), ring.keysFor("example.com"))).rejects.toBeInstanceOf(DkimSignError);
  });
});

describe("DkimKeyring", async () => {
  const rsa = await newDkimKey("rsa");
  const ed = await newDkimKey("ed25519");

  it("picks the keys of the address's domain, else of the nearest parent domain", async () => {
    const ring = await DkimKeyring.parse(
      JSON.stringify({
        "example.com": { selector: "s1", algorithm: "rsa-sha256", privateKey: rsa.pem },
        "mail.example.org": { selector: "s2", algorithm: "ed25519", privateKey: ed.pem },
      }),
    );
    expect(ring.keysFor("app@example.com").map((k) => k.selector)).toEqual(["s1"]);
    expect(ring.keysFor("app@news.example.com").map((k) => k.selector)).toEqual(["s1"]);
    expect(ring.keysFor("app@mail.example.org").map((k) => [k.selector, k.algorithm])).toEqual([["s2", "ed25519-sha256"]]);
    expect(ring.keysFor("app@example.org")).toEqual([]);
    expect(ring.keysFor("app@elsewhere.example")).toEqual([]);
  });

  it("accepts a PKCS#1 RSA key and a bare Ed25519 seed", async () => {
    // The PKCS#1 key inside the PKCS#8 one: PrivateKeyInfo's OCTET STRING (offset 26 for a 2048-bit key's lengths).
    const der = Uint8Array.from(atob(rsa.base64), (c) => c.charCodeAt(0));
    const pkcs1 = btoa(String.fromCharCode(...der.subarray(26)));
    const seed = btoa(String.fromCharCode(...Uint8Array.from(atob(ed.base64), (c) => c.charCodeAt(0)).subarray(16)));
    const ring = await DkimKeyring.parse(
      JSON.stringify({
        "example.com": [
          { selector: "p1", algorithm: "rsa-sha256", privateKey: `-----BEGIN RSA PRIVATE KEY-----\n${pkcs1}\n-----END RSA PRIVATE KEY-----` },
          { selector: "e1", algorithm: "ed25519-sha256", privateKey: seed },
        ],
      }),
    );
    const { raw } = await dkimSign(enc.encode(MESSAGE), ring.keysFor("example.com"));
    expect(await verifyWithRecords(raw, { "p1._domainkey.example.com": rsa.record, "e1._domainkey.example.com": ed.record })).toEqual([
      ["example.com", "pass"],
      ["example.com", "pass"],
    ]);
  });

  it.each([
    ["not JSON", "{", /not JSON/],
    ["a list", "[]", /object keyed by domain/],
    ["a bad domain", JSON.stringify({ "not a domain": {} }), /not a domain name/],
    ["a bad selector", JSON.stringify({ "example.com": { selector: "a b", algorithm: "rsa-sha256", privateKey: "x" } }), /selector/],
    ["an unknown algorithm", JSON.stringify({ "example.com": { selector: "s", algorithm: "rsa-sha1", privateKey: "AAAA" } }), /algorithm/],
    ["garbage for a key", JSON.stringify({ "example.com": { selector: "s", algorithm: "rsa-sha256", privateKey: "not a key!" } }), /neither PEM nor base64/],
  ])("refuses %s with a message naming the place, never the key", async (_what, json, message) => {
    await expect(DkimKeyring.parse(json)).rejects.toThrow(message);
    await expect(DkimKeyring.parse(json)).rejects.toBeInstanceOf(DkimKeyError);
  });

  it("refuses an Ed25519 key declared as RSA, and an RSA key under 1024 bits", async () => {
    await expect(DkimKeyring.parse(JSON.stringify({ "example.com": { selector: "s", algorithm: "rsa-sha256", privateKey: ed.pem } }))).rejects.toThrow(
      /not a valid RSA key/,
    );
    const small = await newDkimKey("rsa", 512);
    await expect(DkimKeyring.parse(JSON.stringify({ "example.com": { selector: "s", algorithm: "rsa-sha256", privateKey: small.pem } }))).rejects.toThrow(
      /512 bits/,
    );
  });

  it("has no keys when the secret is absent or empty", async () => {
    expect((await DkimKeyring.parse(undefined)).domains).toEqual([]);
    expect((await DkimKeyring.parse("  ")).domains).toEqual([]);
  });
});
