import { describe, expect, it } from "vitest";
import { StubResolver } from "../../../../shared/dns/stub.ts";
import { checkSpf } from "../../../../shared/hygiene/auth/spf.ts";
import { AuthDns } from "../../../../shared/hygiene/auth/resolver.ts";
import { MAX_DKIM_SIGNATURES } from "../../../../shared/limits.ts";
import { buildMessage } from "../../../helpers/mail.ts";
import { listCorpus, readCorpus } from "../../../helpers/corpus.ts";
import { sealMessage } from "./auth/arc-seal.js";
import { binary, bytesOfBinary, generateDkimKey, importEd25519Seed, importRsaPrivateKey, signMessage, type Canonicalization } from "./auth/dkim-signer.ts";
import { dkimOf, runAgent } from "./auth/mail.ts";
import { parseSpfSuite, sidecarResolver, type SpfCase, text } from "./auth/vectors.ts";

/** stalwart-mail-auth verifies its vectors at this fixed time (`curTime`), 2022-11-07T17:54:24Z. */
const STALWART_NOW = 1667843664_000;
const DKIMPY = "auth/dkimpy";
const dkimpy = (name: string) => readCorpus(`${DKIMPY}/${name}`);
const dkimpyText = async (name: string) => text(await dkimpy(name)).trim();

describe("authentication vectors: DKIM, stalwart-mail-auth", async () => {
  // stalwart's own test (src/dkim/verify.rs `dkim_verify`) asserts that the LAST signature of each
  // message passes at its fixed clock. The other signatures are valid too: 001 is RFC 8463's
  // example with an Ed25519 and an RSA signature over the same message, 003 carries the same
  // ietf.org signature twice.
  const expected: Record<string, string[]> = {
    "001.eml": ["pass", "pass"],
    "002.eml": ["pass"],
    "003.eml": ["pass", "pass"],
    "004.eml": ["pass"],
    "005.eml": ["pass"],
    "006.eml": ["pass"],
  };
  const files = await listCorpus("auth/stalwart-mail-auth/dkim", [".eml"]);

  it("has a vector for every expectation", () => {
    expect(files.map((f) => f.split("/").pop())).toEqual(Object.keys(expected));
  });

  it.each(files)("%s verifies at the vector's clock", async (file) => {
    const dns = await sidecarResolver(file.replace(/\.eml$/, ".dns.txt"));
    const { mail, verdict } = await runAgent(await readCorpus(file), { dns, now: STALWART_NOW });
    expect(mail.auth?.dkim.map((d) => d.result)).toEqual(expected[file.split("/").pop()!]);
    expect(verdict.action).toBe("continue");
  });

  it("takes the time from the context clock: 005's signature counts until its x= and not a second longer", async () => {
    const file = "auth/stalwart-mail-auth/dkim/005";
    const dns = await sidecarResolver(`${file}.dns.txt`);
    const raw = await readCorpus(`${file}.eml`);
    // x=1667930064, one day after t=.
    expect(dkimOf((await runAgent(raw, { dns, now: 1667930064_000 })).mail)).toEqual([["topicbox.com", "pass"]]);
    expect(dkimOf((await runAgent(raw, { dns, now: 1667930065_000 })).mail)).toEqual([["topicbox.com", "neutral"]]);
  });
});

describe("authentication vectors: DKIM, dkimpy", async () => {
  const testTxt = await dkimpyText("test.txt");
  // Keys dkimpy's tests (dkim/tests/test_dkim.py, test_dkim_ed25519.py) serve from their dnsfunc*.
  const BRISBANE = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
  const GMAIL_20120113 =
    "k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1Kd87/UeJjenpabgbFwh+eBCsSTrqmwIYYvywlbhbqoo2DymndFkbjOVIPIldNs/m40KF+yzMn1skyoxcTUGCQs8g3FgD2Ap3ZB5DekAo5wMmk4wimDO+U8QzI3SD07y2+07wlNWwIt8svnxgdxGkVbbhzY8i+RQ9DpSVpPbF7ykQxtKXkv/ahW3KjViiAH+ghvvIhkx4xYSIc9oSwVmAl5OctMEeWUwg8Istjqz8BZeTWbf41fbNhte7Y+YqZOwq1Sd0DbvYAD9NOZK9vlfuac0598HY+vtSBczUiKERHv1yRbcaQtZFh5wtiRrN04BLUTD21MycBX5jYchHjPY/wIDAQAB";
  // dnsfunc6's "defective public key": the sample key with one byte of its header dropped.
  const DEFECTIVE = "k=rsa; p=MFwwDQYJKoZIhvNAQEBBQADSwAwSAJBANmBe10IgY+u7h3enWTukkqtUD5PR52Tb/mPfjC0QJTocVBq6Za/PlzfV+Py92VaCak19F4WrbVTK5Gg5tW220MCAwEAAQ==";

  // Messages the data set ships already signed, with the key records the named dkimpy test uses.
  const presigned: { file: string; keys: Record<string, string>; expected: string[]; source: string }[] = [
    {
      file: "rfc6376.signed.eml",
      keys: { "brisbane._domainkey.football.example.com": BRISBANE, "test._domainkey.football.example.com": testTxt },
      expected: ["pass", "pass"],
      source: "test_double_previous_verifies (dnsfunc5)",
    },
    {
      file: "rfc6376.signed.rsa.eml",
      keys: { "test._domainkey.football.example.com": testTxt },
      expected: ["pass"],
      source: "signed with test.private (dnsfunc5)",
    },
    {
      file: "rfc6376.signed.rsa.eml",
      keys: { "test._domainkey.football.example.com": DEFECTIVE },
      expected: ["neutral"],
      source: "test_catch_bad_key (dnsfunc6)",
    },
    { file: "test2.message.eml", keys: { "20120113._domainkey.gmail.com": GMAIL_20120113 }, expected: ["pass"], source: "test_degenerate_folding" },
    {
      file: "ed25519test2.eml",
      keys: { "sed._domainkey.test.ex": await dkimpyText("eximtest.dns") },
      expected: ["pass"],
      source: "test_verify_third_party (Exim)",
    },
    {
      file: "test.message.baddomain",
      keys: { "test._domainkey.legitimate.com(.attacker.com": testTxt },
      expected: ["neutral"],
      source: "test_invalid_domain_verify (dnsfunc7): d= is not a domain name",
    },
    { file: "message.mbox", keys: {}, expected: ["neutral"], source: "kitterman.com's 2007-00 key is not in the data: no key" },
  ];

  it.each(presigned)("$file with $source → $expected", async ({ file, keys, expected }) => {
    const dns = new StubResolver(Object.fromEntries(Object.entries(keys).map(([name, record]) => [name, { TXT: [record] }])));
    const { mail } = await runAgent(await dkimpy(file), { dns });
    expect(mail.auth?.dkim.map((d) => d.result)).toEqual(expected);
  });

  it.each(["test.message.eml", "test_extra.message.eml", "test_nofrom.message.eml", "rfc6376.eml", "rfc6376.w1258.eml", "ed25519test.eml"])(
    "%s is not signed: dkim none (test_verifies_nosig)",
    async (file) => {
      const { mail, verdict } = await runAgent(await dkimpy(file), { dns: new StubResolver() });
      expect(mail.auth?.dkim).toEqual([]);
      expect(verdict.note).toContain("dkim=none");
    },
  );

  // dkimpy's sign-then-verify tests, re-enacted: each message signed here with the data set's
  // private key, in all four canonicalisations, and verified against the key record named.
  type Signing = { name: string; message: string; key: () => Promise<CryptoKey>; algorithm?: "ed25519-sha256"; domain: string; selector: string };
  const rsa = (file: string) => async () => importRsaPrivateKey(await dkimpyText(file));
  const testKey: Signing = { name: "test.private", message: "test.message.eml", key: rsa("test.private"), domain: "example.com", selector: "test" };
  const signAndVerify: { signing: Signing; record: string; expected: string; source: string }[] = [
    { signing: testKey, record: testTxt, expected: "pass", source: "test_verifies" },
    { signing: testKey, record: await dkimpyText("test2.txt"), expected: "pass", source: "test_implicit_k (no k=)" },
    { signing: testKey, record: await dkimpyText("badversion.txt"), expected: "neutral", source: "test_bad_version" },
    { signing: testKey, record: await dkimpyText("badk.txt"), expected: "neutral", source: "test_unknown_k" },
    { signing: testKey, record: await dkimpyText("test_bad.txt"), expected: "neutral", source: "test_bad.txt: damaged key" },
    { signing: testKey, record: await dkimpyText("test_tlsrpt.txt"), expected: "neutral", source: "s=tlsrpt: key not for email" },
    {
      signing: { name: "test.private", message: "rfc6376.w1258.eml", key: rsa("test.private"), domain: "example.com", selector: "test" },
      record: testTxt,
      expected: "pass",
      source: "windows-1258 bytes in From are signed as they are",
    },
    {
      signing: {
        name: "ed25519test.key",
        message: "ed25519test.eml",
        key: async () => importEd25519Seed(await dkimpyText("ed25519test.key")),
        algorithm: "ed25519-sha256",
        domain: "example.net",
        selector: "test",
      },
      record: await dkimpyText("ed25519test.dns"),
      expected: "pass",
      source: "test_dkim_ed25519 test_verifies",
    },
    {
      signing: {
        name: "rfc8032_7_1.key",
        message: "rfc6376.eml",
        key: async () => importEd25519Seed(await dkimpyText("rfc8032_7_1.key")),
        algorithm: "ed25519-sha256",
        domain: "football.example.com",
        selector: "brisbane",
      },
      record: BRISBANE,
      expected: "pass",
      source: "test_rfc8032_verifies",
    },
    ...(
      [
        ["1024_testkey.key", "1024_testkey_wo_markers.pub.txt"],
        ["1024_testkey.key", "1024_testkey_wo_markers.pub.rsa.txt"],
        ["2048_testkey.key", "2048_testkey_wo_markers.pub.txt"],
        ["2048_testkey.key", "2048_testkey_wo_markers.pub.rsa.txt"],
        ["2048_testkey_PKCS8.key", "2048_testkey_PKCS8.key.pub.txt"],
      ] as const
    ).map(([key, record]) => ({
      signing: { name: key, message: "test.message.eml", key: rsa(key), domain: "example.com", selector: "test" },
      record: "", // read below
      recordFile: record,
      expected: "pass",
      source: `test_crypto key pair, ${record.includes(".rsa.") ? "PKCS#1" : "SubjectPublicKeyInfo"} record`,
    })),
  ];
  for (const entry of signAndVerify as ((typeof signAndVerify)[number] & { recordFile?: string })[]) {
    if (entry.recordFile !== undefined) entry.record = await dkimpyText(entry.recordFile);
  }
  const canonicalizations: [Canonicalization, Canonicalization][] = [
    ["simple", "simple"],
    ["simple", "relaxed"],
    ["relaxed", "simple"],
    ["relaxed", "relaxed"],
  ];

  it.each(signAndVerify)("$signing.message signed with $signing.name, key record ($source) → $expected", async ({ signing, record, expected }) => {
    const key = await signing.key();
    const dns = new StubResolver({ [`${signing.selector}._domainkey.${signing.domain}`]: { TXT: [record] } });
    for (const [header, body] of canonicalizations) {
      const signed = await signMessage(await dkimpy(signing.message), {
        domain: signing.domain,
        selector: signing.selector,
        key,
        algorithm: signing.algorithm,
        header,
        body,
      });
      const { mail } = await runAgent(signed, { dns });
      expect(dkimOf(mail), `${header}/${body}`).toEqual([[signing.domain, expected]]);
    }
  });

  describe("changes after signing (test.message, test.private)", async () => {
    const key = await importRsaPrivateKey(await dkimpyText("test.private"));
    const dns = new StubResolver({ "test._domainkey.example.com": { TXT: [testTxt] } });
    const message = binary(await dkimpy("test.message.eml")).replace(/\r?\n/g, "\r\n");
    const sign = async (source: string, options: { bodyLength?: boolean; headers?: string[] } = {}) =>
      binary(await signMessage(bytesOfBinary(source), { domain: "example.com", selector: "test", key, ...options }));
    const verify = async (signed: string) => dkimOf((await runAgent(bytesOfBinary(signed), { dns })).mail);
    const FROM = `From: "Resident Evil" <sales@spammer.com>\r\n`;

    it("fails when the body is changed (test_altered_body_fails)", async () => {
      expect(await verify(`${await sign(message)}foo`)).toEqual([["example.com", "neutral"]]);
    });

    it("still passes with an unsigned header field added (test_multiple_from_fails, first half)", async () => {
      const signed = await sign(message);
      expect(await verify(signed.replace("Subject: Testing\r\n", "Subject: Testing\r\nX-Foo: bar\r\n"))).toEqual([["example.com", "pass"]]);
    });

    it("verifies for no one once a second From is added, above or below (test_multiple_from_fails)", async () => {
      const signed = await sign(message);
      const sigEnd = signed.indexOf("\r\n", signed.indexOf("b=")) + 2;
      expect(await verify(`${signed.slice(0, sigEnd)}${FROM}${signed.slice(sigEnd)}`)).toEqual([["example.com", "neutral"]]);
      expect(await verify(signed.replace("\r\n\r\n", `\r\n${FROM.trimEnd()}\r\n\r\n`))).toEqual([["example.com", "neutral"]]);
    });

    it("honours l= and ignores text added after it (test_add_body_length, test_l_verify)", async () => {
      const signed = await sign(message, { bodyLength: true });
      expect(signed).toMatch(/; l=\d+;/);
      expect(await verify(signed)).toEqual([["example.com", "pass"]]);
      expect(await verify(`${signed}added more text\r\n`)).toEqual([["example.com", "pass"]]);
    });

    it("signs repeated header fields bottom-up (test_extra_headers)", async () => {
      const mbox = binary(await dkimpy("message.mbox")).replace(/\r?\n/g, "\r\n");
      const names = mbox
        .slice(0, mbox.indexOf("\r\n\r\n"))
        .split("\r\n")
        .filter((l) => /^[^\s:]+:/.test(l))
        .map((l) => l.slice(0, l.indexOf(":")).toLowerCase());
      expect(names.filter((n) => n === "received").length).toBeGreaterThan(1);
      expect(await verify(await sign(mbox, { headers: names }))).toEqual([
        ["example.com", "pass"],
        ["kitterman.com", "neutral"],
      ]);
    });

    it("does not count a signature that leaves From out (test_no_from_fails)", async () => {
      const nofrom = binary(await dkimpy("test_nofrom.message.eml"));
      expect(await verify(await sign(nofrom, { headers: ["to", "subject", "date"] }))).toEqual([["example.com", "neutral"]]);
    });

    it("reports rsa-sha1 as policy, never pass (RFC 8301)", async () => {
      const sha1Key = await importRsaPrivateKey(await dkimpyText("test.private"), "SHA-1");
      const signed = await signMessage(bytesOfBinary(message), { domain: "example.com", selector: "test", key: sha1Key, algorithm: "rsa-sha1" });
      expect(dkimOf((await runAgent(signed, { dns })).mail)).toEqual([["example.com", "policy"]]);
    });
  });
});

describe("authentication vectors: ARC, stalwart-mail-auth", async () => {
  // stalwart's `arc_verify` test: the chain validates and some DKIM-Signature passes. 001 is a
  // Gmail-sealed list message (i=1), 002 a two-hop chain (Ed25519 then RSA seals).
  const expected: Record<string, { instances: number; dkim: [string, string][] }> = {
    "001.eml": {
      instances: 1,
      dkim: [
        ["ietf.org", "pass"],
        ["ietf.org", "pass"],
        ["stalw.art", "neutral"], // body hash did not verify: the list changed the body
      ],
    },
    "002.eml": { instances: 2, dkim: [["manchego.org", "pass"]] },
  };
  const files = await listCorpus("auth/stalwart-mail-auth/arc", [".eml"]);

  it("has a vector for every expectation", () => {
    expect(files.map((f) => f.split("/").pop())).toEqual(Object.keys(expected));
  });

  it.each(files)("%s: chain = pass and some DKIM-Signature = pass", async (file) => {
    const dns = await sidecarResolver(file.replace(/\.eml$/, ".dns.txt"));
    const { mail } = await runAgent(await readCorpus(file), { dns, now: STALWART_NOW });
    const want = expected[file.split("/").pop()!]!;
    expect(mail.auth?.arc).toEqual({ result: "pass", instances: want.instances });
    expect(dkimOf(mail)).toEqual(want.dkim);
  });

  it("fails the chain when a sealed header is changed", async () => {
    const file = "auth/stalwart-mail-auth/arc/002";
    const dns = await sidecarResolver(`${file}.dns.txt`);
    const raw = text(await readCorpus(`${file}.eml`)).replace(
      "ARC-Authentication-Results: i=1; scamorza.org;",
      "ARC-Authentication-Results: i=1; scamorza.org ;",
    );
    const { mail } = await runAgent(new TextEncoder().encode(raw), { dns, now: STALWART_NOW });
    expect(mail.auth?.arc.result).toBe("fail");
  });
});

describe("authentication vectors: SPF, stalwart-mail-auth", async () => {
  /**
   * Cases where mailauth's answer differs from stalwart's, and why. Every other case must give
   * stalwart's expected result (and explanation, where the suite checks one).
   */
  const divergences: Record<string, { got: string; why: string }> = {
    "all.yml / All test #1": {
      got: "permerror",
      why: "'ip:10.0.0.1' after -all is no mechanism: RFC 7208 §4.6 makes any syntax error in the record permerror; stalwart ignores terms after all",
    },
    "basic.yml / DNS Temp Error #1": {
      got: "none",
      why: "the harness's magic name _dns_error.org is not a host name, so mailauth refuses it as the sender domain before any lookup; DNS errors are covered below",
    },
    "basic.yml / DNS Lookup Limits #1": {
      got: "permerror",
      why: "ten a: mechanisms for names without addresses are ten void lookups; RFC 7208 §4.6.4 allows 2, stalwart does not count them",
    },
    "exists.yml / Exists #2": { got: "fail", why: "RFC 7208 §5.7: exists looks up A records only, even for IPv6 clients; ip6.test.org has only AAAA" },
    "ip.yml / IPv6 match #4": {
      got: "fail",
      why: "an ip6: mechanism (here ::ffff:10.1.2.3) does not match an IPv4 client; stalwart matches the IPv4-mapped form",
    },
    "macro.yml / Macro expansion 2 #2": {
      got: "fail",
      why: "exists: uses A lookups only (RFC 7208 §5.7); the name built from %{ir}.%{v} holds an AAAA record",
    },
  };
  const cases: SpfCase[] = [];
  for (const file of await listCorpus("auth/stalwart-mail-auth/spf", [".yml"]))
    cases.push(...parseSpfSuite(file.split("/").pop()!, text(await readCorpus(file))));

  it("reads every case of the suites", () => {
    expect(cases.length).toBe(163);
    expect(Object.keys(divergences).every((title) => cases.some((c) => c.title === title))).toBe(true);
  });

  // stalwart's harness checks both identities (`SpfParameters::verify`): HELO first, and MAIL FROM
  // only when HELO passes. The agent itself checks MAIL FROM (HELO for a null sender).
  it.each(cases)("$title: helo $helo, mail from $sender, ip $ip → $expect", async (c) => {
    const helo = await checkSpf({ ip: c.ip, helo: c.helo, sender: "" }, new AuthDns(c.dns).resolve);
    const outcome = helo.result === "pass" ? await checkSpf({ ip: c.ip, helo: c.helo, sender: c.sender }, new AuthDns(c.dns).resolve) : helo;
    const divergence = divergences[c.title];
    expect(outcome.result, divergence?.why).toBe(divergence?.got ?? c.expect);
    if (divergence === undefined && c.explanation !== "") expect(outcome.explanation).toBe(c.explanation);
  });

  it("reports temperror when the sender domain's SPF lookup fails", async () => {
    const dns = new StubResolver({}, { failing: ["dns-error.example"] });
    expect(await checkSpf({ ip: "192.0.2.1", helo: "mx.dns-error.example", sender: "a@dns-error.example" }, new AuthDns(dns).resolve)).toMatchObject({
      result: "temperror",
      domain: "dns-error.example",
    });
  });

  it("checks the HELO name for a null sender, and nothing without a client IP", async () => {
    const dns = new StubResolver({ "mx.example.net": { TXT: ["v=spf1 ip4:192.0.2.0/24 -all"] } });
    expect(await checkSpf({ ip: "192.0.2.1", helo: "mx.example.net", sender: "" }, new AuthDns(dns).resolve)).toMatchObject({
      result: "pass",
      domain: "mx.example.net",
    });
    expect(await checkSpf({ ip: null, helo: "mx.example.net", sender: "a@example.net" }, new AuthDns(dns).resolve)).toEqual({
      result: "none",
      domain: null,
      comment: "client IP unknown",
    });
  });
});

describe("authentication agent: DMARC decisions", async () => {
  const key = await generateDkimKey("rsa");
  const ip = "203.0.113.9"; // not in any SPF record below
  const zone = (dmarc = "v=DMARC1; p=reject") =>
    new StubResolver({
      "s1._domainkey.example.org": { TXT: [key.record] },
      "s1._domainkey.mail.example.org": { TXT: [key.record] },
      "s1._domainkey.other.example": { TXT: [key.record] },
      "example.org": { TXT: ["v=spf1 ip4:192.0.2.0/24 -all"] },
      "bounce.example.org": { TXT: ["v=spf1 ip4:192.0.2.0/24 -all"] },
      "_dmarc.example.org": { TXT: [dmarc] },
    });
  const message = (from = "Alice <alice@example.org>") =>
    buildMessage({ from, to: "bob@example.com", subject: "Quarterly numbers", body: "See attached.\r\n" });
  const signedBy = (domain: string, from?: string) => signMessage(message(from), { domain, selector: "s1", key: key.privateKey });
  const unsigned = (from?: string) => new TextEncoder().encode(message(from));
  const dmarcReject = { action: "reject", reason: { reason: "dmarc_policy", domain: "example.org", policy: "reject" } };

  it("passes DMARC on an aligned DKIM signature and continues", async () => {
    const { verdict, mail } = await runAgent(await signedBy("example.org"), { dns: zone(), ip, from: "alice@example.org" });
    expect(verdict).toMatchObject({ action: "continue", note: expect.stringMatching(/^spf=fail dkim=pass dmarc=pass arc=none/) });
    expect(mail.auth?.dmarc).toEqual({ result: "pass", domain: "example.org", policy: "reject", aligned: { spf: false, dkim: true } });
    expect(mail.notes).toMatchObject({ dmarc: "pass", "dmarc-source": "edge" });
  });

  it("rejects a message that fails DMARC when the sender's policy is reject", async () => {
    const { verdict, mail } = await runAgent(unsigned(), { dns: zone(), ip, from: "alice@example.org" });
    expect(verdict).toMatchObject(dmarcReject);
    expect(mail.auth).toMatchObject({ spf: { result: "fail", domain: "example.org" }, dkim: [], dmarc: { result: "fail", policy: "reject" } });
  });

  it("quarantines a message that fails DMARC when the policy is quarantine", async () => {
    const { verdict } = await runAgent(unsigned(), { dns: zone("v=DMARC1; p=quarantine"), ip, from: "alice@example.org" });
    expect(verdict).toMatchObject({ action: "quarantine", reason: { reason: "dmarc_policy", domain: "example.org", policy: "quarantine" } });
  });

  it("continues, with a note, when the policy is none", async () => {
    const { verdict, mail } = await runAgent(unsigned(), { dns: zone("v=DMARC1; p=none"), ip, from: "alice@example.org" });
    expect(verdict).toMatchObject({ action: "continue", note: expect.stringContaining("dmarc=fail arc=none; policy=none") });
    expect(mail.auth?.dmarc.result).toBe("fail");
  });

  it("continues when the From domain publishes no DMARC record", async () => {
    const { verdict, mail } = await runAgent(unsigned("Carol <carol@no-dmarc.example>"), { dns: zone(), ip, from: "carol@no-dmarc.example" });
    expect(verdict.action).toBe("continue");
    expect(mail.auth?.dmarc).toEqual({ result: "none", domain: "no-dmarc.example", policy: null, aligned: { spf: false, dkim: false } });
  });

  it("does not count a valid signature by an unrelated domain", async () => {
    const { verdict, mail } = await runAgent(await signedBy("other.example"), { dns: zone(), ip, from: "alice@example.org" });
    expect(dkimOf(mail)).toEqual([["other.example", "pass"]]);
    expect(mail.auth?.dmarc.aligned).toEqual({ spf: false, dkim: false });
    expect(verdict).toMatchObject(dmarcReject);
  });

  it("aligns SPF from a subdomain in relaxed mode, not in strict (aspf=s)", async () => {
    const run = (dmarc: string) => runAgent(unsigned(), { dns: zone(dmarc), ip: "192.0.2.10", from: "bounces@bounce.example.org" });
    const relaxed = await run("v=DMARC1; p=reject");
    expect(relaxed.mail.auth?.spf).toEqual({ result: "pass", domain: "bounce.example.org" });
    expect(relaxed.mail.auth?.dmarc).toMatchObject({ result: "pass", aligned: { spf: true, dkim: false } });
    expect(relaxed.verdict.action).toBe("continue");
    expect((await run("v=DMARC1; p=reject; aspf=s")).verdict).toMatchObject(dmarcReject);
  });

  it("aligns DKIM from a subdomain in relaxed mode, not in strict (adkim=s)", async () => {
    const signed = await signedBy("mail.example.org");
    expect((await runAgent(signed, { dns: zone("v=DMARC1; p=reject"), ip })).mail.auth?.dmarc).toMatchObject({ result: "pass", aligned: { dkim: true } });
    expect((await runAgent(signed, { dns: zone("v=DMARC1; p=reject; adkim=s"), ip })).verdict).toMatchObject(dmarcReject);
  });

  it("applies the organisation's sp= to a subdomain without its own record", async () => {
    const { verdict, mail } = await runAgent(unsigned("News <news@news.example.org>"), { dns: zone("v=DMARC1; p=reject; sp=quarantine"), ip });
    expect(mail.auth?.dmarc).toMatchObject({ result: "fail", domain: "news.example.org", policy: "quarantine" });
    expect(verdict).toMatchObject({ action: "quarantine", reason: { domain: "news.example.org", policy: "quarantine" } });
  });

  it("applies test mode (t=y) as the next weaker policy: reject becomes quarantine", async () => {
    const { verdict, mail } = await runAgent(unsigned(), { dns: zone("v=DMARC1; p=reject; t=y"), ip });
    expect(mail.auth?.dmarc.policy).toBe("quarantine");
    expect(verdict.action).toBe("quarantine");
  });

  it("cannot evaluate a From with authors in two domains: permerror, not enforced", async () => {
    const { verdict, mail } = await runAgent(unsigned("alice@example.org, mallory@other.example"), { dns: zone(), ip });
    expect(mail.auth?.dmarc).toEqual({ result: "permerror", domain: null, policy: null, aligned: { spf: false, dkim: false } });
    expect(verdict.action).toBe("continue");
  });

  it(`verifies at most MAX_DKIM_SIGNATURES (${MAX_DKIM_SIGNATURES}) signatures and says how many it left`, async () => {
    let signed: Uint8Array = await signedBy("example.org");
    for (let i = 0; i < MAX_DKIM_SIGNATURES + 1; i++) signed = await signMessage(signed, { domain: "other.example", selector: "s1", key: key.privateKey });
    const { verdict, mail } = await runAgent(signed, { dns: zone(), ip });
    expect(mail.auth?.dkim).toHaveLength(MAX_DKIM_SIGNATURES);
    expect(verdict.note).toContain("2 DKIM signature(s) not checked");
  });
});

describe("authentication agent: offline and DNS failures", async () => {
  const key = await generateDkimKey("rsa");
  const ip = "203.0.113.9";
  const records = {
    "s1._domainkey.example.org": { TXT: [key.record] },
    "example.org": { TXT: ["v=spf1 ip4:192.0.2.0/24 -all"] },
    "_dmarc.example.org": { TXT: ["v=DMARC1; p=reject"] },
  };
  const unsigned = new TextEncoder().encode(buildMessage({ from: "Alice <alice@example.org>" }));
  const signed = await signMessage(buildMessage({ from: "Alice <alice@example.org>" }), { domain: "example.org", selector: "s1", key: key.privateKey });

  it.each([undefined, null])("reports none for everything and never rejects without DNS (dns: %s)", async (dns) => {
    const { verdict, mail } = await runAgent(unsigned, { dns, ip, from: "alice@example.org" });
    expect(mail.auth).toEqual({
      spf: { result: "none", domain: null },
      dkim: [],
      dmarc: { result: "none", domain: null, policy: null, aligned: { spf: false, dkim: false } },
      arc: { result: "none", instances: 0 },
    });
    expect(verdict).toMatchObject({ action: "continue", skipped: true, note: expect.stringContaining("offline (no DNS)") });
  });

  it("does not reject when the DMARC record cannot be fetched", async () => {
    const dns = new StubResolver(records, { failing: ["_dmarc.example.org"] });
    const { verdict, mail } = await runAgent(unsigned, { dns, ip, from: "alice@example.org" });
    expect(mail.auth?.dmarc.result).toBe("temperror");
    expect(verdict.action).toBe("continue");
  });

  it("reports temperror, not fail, when a signer's key cannot be fetched, and does not reject", async () => {
    const dns = new StubResolver(records, { failing: ["s1._domainkey.example.org"] });
    const { verdict, mail } = await runAgent(signed, { dns, ip, from: "alice@example.org" });
    expect(dkimOf(mail)).toEqual([["example.org", "temperror"]]);
    // SPF fails and no DKIM passed, but the signature that could not be checked might have aligned.
    expect(mail.auth?.dmarc).toMatchObject({ result: "temperror", policy: "reject" });
    expect(verdict.action).toBe("continue");
  });

  it("does not reject when SPF's DNS fails and nothing else passes", async () => {
    const dns = new StubResolver(records, { failing: ["example.org"] });
    const { verdict, mail } = await runAgent(unsigned, { dns, ip, from: "alice@example.org" });
    expect(mail.auth?.spf.result).toBe("temperror");
    expect(mail.auth?.dmarc.result).toBe("temperror");
    expect(verdict.action).toBe("continue");
  });
});

describe("authentication agent: Cloudflare cross-check", async () => {
  const key = await generateDkimKey("ed25519");
  const ip = "203.0.113.9";
  const records = {
    "s1._domainkey.example.org": { TXT: [key.record] },
    "example.org": { TXT: ["v=spf1 ip4:192.0.2.0/24 -all"] },
    "_dmarc.example.org": { TXT: ["v=DMARC1; p=reject"] },
  };
  const signed = await signMessage(buildMessage({ from: "Alice <alice@example.org>" }), {
    domain: "example.org",
    selector: "s1",
    key: key.privateKey,
    algorithm: "ed25519-sha256",
  });
  const unsigned = new TextEncoder().encode(buildMessage({ from: "Alice <alice@example.org>" }));

  it("records Cloudflare's verdicts beside ours and notes nothing when they agree", async () => {
    const cloudflare = { spf: "fail", dkim: "pass", dmarc: "pass" };
    const { verdict, mail } = await runAgent(signed, { dns: new StubResolver(records), ip, from: "alice@example.org", cloudflare });
    expect(verdict.note).toContain("cloudflare spf=fail dkim=pass dmarc=pass");
    expect(mail.notes["auth-cloudflare"]).toBe("spf=fail dkim=pass dmarc=pass");
    expect(verdict.note).not.toContain("disagrees");
    expect(mail.notes["auth-disagreement"]).toBeUndefined();
  });

  it("notes where Cloudflare disagrees, and keeps its own verdict", async () => {
    const cloudflare = { spf: "pass", dkim: "fail", dmarc: "pass" };
    const { verdict, mail } = await runAgent(signed, { dns: new StubResolver(records), ip, from: "alice@example.org", cloudflare });
    expect(verdict.note).toContain("disagrees on spf (edge fail, cloudflare pass), dkim (edge pass, cloudflare fail)");
    expect(mail.notes).toMatchObject({ "auth-disagreement": "spf,dkim", dmarc: "pass", "dmarc-source": "edge" });
    expect(mail.auth?.dkim[0]?.result).toBe("pass");
  });

  it("takes Cloudflare's DMARC verdict when its own is temperror, with the policy it read itself", async () => {
    const dns = () => new StubResolver(records, { failing: ["s1._domainkey.example.org"] });
    const failed = await runAgent(signed, { dns: dns(), ip, from: "alice@example.org", cloudflare: { dmarc: "fail" } });
    expect(failed.mail.auth?.dmarc.result).toBe("temperror");
    expect(failed.verdict).toMatchObject({ action: "reject", reason: { reason: "dmarc_policy", domain: "example.org", policy: "reject" } });
    expect(failed.mail.notes).toMatchObject({ dmarc: "fail", "dmarc-source": "cloudflare" });
    const passed = await runAgent(signed, { dns: dns(), ip, from: "alice@example.org", cloudflare: { dmarc: "pass" } });
    expect(passed.verdict).toMatchObject({ action: "continue", note: expect.stringContaining("dmarc=pass from cloudflare") });
  });

  it("offline, records Cloudflare's fail but cannot enforce a policy it has not read", async () => {
    const { verdict, mail } = await runAgent(unsigned, { dns: null, ip, from: "alice@example.org", cloudflare: { spf: "fail", dkim: "none", dmarc: "fail" } });
    expect(verdict).toMatchObject({
      action: "continue",
      note: expect.stringContaining("dmarc=fail from cloudflare; cloudflare spf=fail dkim=none dmarc=fail; policy unknown"),
    });
    expect(mail.notes).toMatchObject({ dmarc: "fail", "dmarc-source": "cloudflare" });
    expect(mail.auth?.dmarc.result).toBe("none");
  });

  it("ignores Cloudflare's DMARC verdict when its own was computed", async () => {
    const { verdict } = await runAgent(unsigned, { dns: new StubResolver(records), ip, from: "alice@example.org", cloudflare: { dmarc: "pass" } });
    expect(verdict).toMatchObject({ action: "reject", reason: { reason: "dmarc_policy" } });
  });
});

describe("authentication agent: ARC", async () => {
  // A list message: Alice's domain (p=reject) signed it, a list changed the body and re-sent it
  // from its own envelope, and an ARC sealer recorded that it passed DMARC on arrival.
  const author = await generateDkimKey("rsa");
  const sealer = await generateDkimKey("ed25519");
  const ip = "203.0.113.9";
  const original = await signMessage(buildMessage({ from: "Alice <alice@example.org>", subject: "Meeting", body: "Tuesday at ten.\r\n" }), {
    domain: "example.org",
    selector: "s1",
    key: author.privateKey,
  });
  const forwarded = bytesOfBinary(`${binary(original)}--\r\nThe list footer\r\n`);
  const sealed = async (sealerDomain: string, dmarc: string) => {
    const headers = await sealMessage(forwarded, {
      signingDomain: sealerDomain,
      selector: "arc",
      privateKey: sealer.pkcs8Pem,
      algorithm: "ed25519-sha256",
      authResults: `mx.${sealerDomain}; dkim=pass header.d=example.org; dmarc=${dmarc} header.from=example.org`,
      cv: "none",
    });
    return bytesOfBinary(binary(headers) + binary(forwarded));
  };
  const dns = (sealerDomain: string) =>
    new StubResolver({
      "s1._domainkey.example.org": { TXT: [author.record] },
      "_dmarc.example.org": { TXT: ["v=DMARC1; p=reject"] },
      [`arc._domainkey.${sealerDomain}`]: { TXT: [sealer.record] },
    });

  it("does not enforce a DMARC fail when a trusted sealer's earliest ARC results say dmarc=pass", async () => {
    const { verdict, mail } = await runAgent(await sealed("google.com", "pass"), { dns: dns("google.com"), ip, from: "list-bounces@lists.example.net" });
    expect(mail.auth?.arc).toEqual({ result: "pass", instances: 1 });
    expect(mail.auth?.dmarc.result).toBe("fail");
    expect(verdict).toMatchObject({
      action: "continue",
      note: expect.stringContaining("dmarc fail not enforced: trusted ARC chain, i=1 google.com said dmarc=pass"),
    });
    expect(mail.notes["dmarc-arc-override"]).toBe("true");
  });

  it("enforces it when the sealer is not trusted", async () => {
    const { verdict, mail } = await runAgent(await sealed("lists.example.net", "pass"), { dns: dns("lists.example.net"), ip });
    expect(mail.auth?.arc.result).toBe("pass");
    expect(verdict).toMatchObject({ action: "reject", reason: { reason: "dmarc_policy", policy: "reject" } });
  });

  it("enforces it when the earliest ARC results did not say dmarc=pass", async () => {
    const { verdict } = await runAgent(await sealed("google.com", "fail"), { dns: dns("google.com"), ip });
    expect(verdict.action).toBe("reject");
  });

  it("enforces it when the chain does not validate", async () => {
    const tampered = bytesOfBinary(binary(await sealed("google.com", "pass")).replace("Tuesday at ten.", "Wednesday at ten."));
    const { verdict, mail } = await runAgent(tampered, { dns: dns("google.com"), ip });
    expect(mail.auth?.arc.result).toBe("fail");
    expect(verdict.action).toBe("reject");
  });
});
