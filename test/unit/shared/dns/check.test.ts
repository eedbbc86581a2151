import { describe, expect, it } from "vitest";
import { checkDomainDns, type DnsCheck, type DnsCheckName, type DnsReport, overallOf, type PolicyFetch } from "../../../../shared/dns/check.ts";
import { mxMatches } from "../../../../shared/dns/mta-sts.ts";
import { type StubRecords, StubResolver } from "../../../../shared/dns/stub.ts";

const CLOUDFLARE_MX = ["86 route1.mx.cloudflare.net", "4 route2.mx.cloudflare.net", "24 route3.mx.cloudflare.net"];
const GOOD_POLICY = "version: STSv1\nmode: enforce\nmx: *.mx.cloudflare.net\nmax_age: 86400\n";

/** A domain set up as docs/deploy.md and Cloudflare's Email Routing docs describe, with `changes` on top. */
function zone(changes: StubRecords = {}): StubResolver {
  return new StubResolver({
    "example.com": { MX: CLOUDFLARE_MX, TXT: ["google-site-verification=abc", "v=spf1 include:_spf.mx.cloudflare.net ~all"] },
    "_dmarc.example.com": { TXT: ["v=DMARC1; p=reject; rua=mailto:dmarc@example.com"] },
    "_mta-sts.example.com": { TXT: ["v=STSv1; id=20230615T153000;"] },
    "_smtp._tls.example.com": { TXT: ["v=TLSRPTv1; rua=mailto:tls@example.com"] },
    ...changes,
  });
}

/** A policy host answering `body` with `status`, recording the URLs asked for. */
function policyHost(body = GOOD_POLICY, status = 200, headers: Record<string, string> = {}): PolicyFetch & { urls: string[]; inits: unknown[] } {
  const urls: string[] = [];
  const inits: unknown[] = [];
  return Object.assign(
    async (url: string, init: unknown) => {
      urls.push(url);
      inits.push(init);
      return new Response(status === 200 ? body : "not here", { status, headers: { "content-type": "text/plain", ...headers } });
    },
    { urls, inits },
  );
}

function check(report: DnsReport, name: DnsCheckName): DnsCheck {
  const found = report.checks.find((c) => c.check === name);
  if (found === undefined) throw new Error(`no ${name} check in the report`);
  return found;
}

describe("checkDomainDns", () => {
  it("passes a domain with Email Routing's MX and SPF, an enforcing DMARC, MTA-STS and TLS-RPT", async () => {
    const fetchPolicy = policyHost();
    const report = await checkDomainDns("Example.COM.", zone(), { fetchPolicy, now: () => Date.UTC(2026, 10, 21) });
    expect(report.domain).toBe("example.com");
    expect(report.checkedAt).toBe("2026-11-21T00:00:00.000Z");
    expect(report.checks.map((c) => [c.check, c.status, c.fix])).toEqual([
      ["mx", "pass", null],
      ["spf", "pass", null],
      ["dmarc", "pass", null],
      ["mta-sts", "pass", null],
      ["tls-rpt", "pass", null],
    ]);
    expect(report.overall).toBe("pass");
    // Only the SPF record is shown among the apex's TXT records.
    expect(check(report, "spf").records).toEqual(["v=spf1 include:_spf.mx.cloudflare.net ~all"]);
    expect(check(report, "mx")).toMatchObject({ name: "example.com", type: "MX", records: CLOUDFLARE_MX });
    expect(check(report, "dmarc")).toMatchObject({ name: "_dmarc.example.com", type: "TXT" });
    expect(check(report, "mta-sts").summary).toContain("policy mode enforce, mx *.mx.cloudflare.net");
    // RFC 8461 §3.3: the policy comes from its own host, redirects not followed.
    expect(fetchPolicy.urls).toEqual(["https://mta-sts.example.com/.well-known/mta-sts.txt"]);
    expect(fetchPolicy.inits[0]).toMatchObject({ method: "GET", redirect: "manual" });
  });

  it("checks only the MTA-STS TXT record without a policy fetcher, and says so", async () => {
    const report = await checkDomainDns("example.com", zone());
    expect(check(report, "mta-sts")).toMatchObject({ status: "pass", fix: null });
    expect(check(report, "mta-sts").summary).toMatch(/policy file was not fetched \(TXT record only\)/);
  });

  it("warns with plain advice for p=none, no rua, and missing MTA-STS and TLS-RPT", async () => {
    const report = await checkDomainDns(
      "example.com",
      zone({ "_dmarc.example.com": { TXT: ["v=DMARC1; p=none"] }, "_mta-sts.example.com": {}, "_smtp._tls.example.com": {} }),
    );
    const dmarc = check(report, "dmarc");
    expect(dmarc.status).toBe("warn");
    expect(dmarc.summary).toMatch(/p=none only monitors/);
    expect(dmarc.fix).toMatch(/move to p=quarantine, then p=reject/);
    expect(dmarc.fix).toMatch(/Add rua=mailto:/);
    expect(check(report, "mta-sts")).toMatchObject({ status: "warn", records: [] });
    expect(check(report, "mta-sts").fix).toMatch(/CNAME record _mta-sts → _mta-sts\.mx\.cloudflare\.net/);
    expect(check(report, "mta-sts").fix).toContain("https://mta-sts.example.com/.well-known/mta-sts.txt");
    expect(check(report, "tls-rpt")).toMatchObject({ status: "warn" });
    expect(check(report, "tls-rpt").fix).toMatch(/v=TLSRPTv1; rua=mailto:/);
    expect(report.overall).toBe("warn");
  });

  it("fails a domain whose MX points elsewhere and whose SPF lets anyone send", async () => {
    const report = await checkDomainDns(
      "example.com",
      zone({ "example.com": { MX: ["10 mx.mailhost.example"], TXT: ["v=spf1 include:_spf.mx.cloudflare.net +all"] } }),
    );
    expect(check(report, "mx")).toMatchObject({ status: "fail" });
    expect(check(report, "mx").summary).toMatch(/point elsewhere \(mx\.mailhost\.example\)/);
    expect(check(report, "mx").fix).toMatch(/Remove the MX records for mx\.mailhost\.example\. In the Cloudflare dashboard .* Email Routing/);
    expect(check(report, "spf")).toMatchObject({ status: "fail" });
    expect(check(report, "spf").summary).toMatch(/"\+all": anyone may send/);
    expect(report.overall).toBe("fail");
  });

  it.each([
    ["no MX at all", [], "fail", /No MX records/],
    ["a null MX", ["0 "], "fail", /null MX/],
    ["another server ahead of Cloudflare's", ["1 mail.example.net", ...CLOUDFLARE_MX], "fail", /mail\.example\.net come before/],
    ["another server level with Cloudflare's", ["4 mail.example.net", ...CLOUDFLARE_MX], "fail", /come before \(or level with\)/],
    ["a backup server behind Cloudflare's", [...CLOUDFLARE_MX, "90 backup.example.net"], "warn", /Backup MX records for backup\.example\.net/],
    [
      "Cloudflare's other host names",
      ["8 amir.mx.cloudflare.net", "51 linda.mx.cloudflare.net", "62 isaac.mx.cloudflare.net"],
      "pass",
      /3 MX records, all at Cloudflare/,
    ],
    ["a look-alike host", ["10 route1.mx.cloudflare.net.evil.example"], "fail", /point elsewhere/],
  ])("MX with %s: %s", async (_, mx, status, summary) => {
    const dns = zone();
    dns.set("example.com", "MX", ...mx);
    const result = check(await checkDomainDns("example.com", dns), "mx");
    expect(result.status).toBe(status);
    expect(result.summary).toMatch(summary);
    expect(result.fix === null).toBe(status === "pass");
  });

  it.each([
    ["missing", [], "fail", /No SPF record/, /v=spf1 include:_spf\.mx\.cloudflare\.net ~all/],
    ["two records", ["v=spf1 include:_spf.mx.cloudflare.net ~all", "v=spf1 ip4:192.0.2.1 -all"], "fail", /2 SPF records/, /Merge them into one/],
    ["no Cloudflare include", ["v=spf1 ip4:192.0.2.0/24 -all"], "fail", /lacks include:_spf\.mx\.cloudflare\.net/, /Add include:_spf/],
    [
      "a misspelt mechanism",
      ["v=spf1 inlcude:_spf.mx.cloudflare.net -all"],
      "fail",
      /"inlcude:_spf\.mx\.cloudflare\.net" is not an SPF mechanism/,
      /Correct or remove/,
    ],
    [
      "eleven lookups",
      [`v=spf1 include:_spf.mx.cloudflare.net ${Array.from({ length: 10 }, (_, i) => `include:s${i}.example`).join(" ")} -all`],
      "fail",
      /11 DNS lookups, over the limit of 10/,
      /Replace includes/,
    ],
    ["no all", ["v=spf1 include:_spf.mx.cloudflare.net"], "warn", /no "all" at the end/, /End the record/],
    ["?all", ["v=spf1 include:_spf.mx.cloudflare.net ?all"], "warn", /"\?all"/, /"~all" or "-all"/],
    ["ptr", ["v=spf1 ptr include:_spf.mx.cloudflare.net -all"], "warn", /"ptr" mechanism/, /Replace "ptr"/],
    ["-all with a redirect-free record", ["V=SPF1 +include:_spf.mx.cloudflare.net mx -all"], "pass", /2 DNS lookups in the record itself/, null],
    ["a redirect", ["v=spf1 include:_spf.mx.cloudflare.net redirect=_spf.example.com"], "pass", /2 DNS lookups/, null],
  ])("SPF %s: %s", async (_, txt, status, summary, fix) => {
    const dns = zone();
    dns.set("example.com", "TXT", "unrelated=1", ...txt);
    const result = check(await checkDomainDns("example.com", dns), "spf");
    expect(result.status).toBe(status);
    expect(result.summary).toMatch(summary);
    if (fix === null) expect(result.fix).toBeNull();
    else expect(result.fix).toMatch(fix);
  });

  it.each([
    ["missing", [], "warn", /No DMARC record/],
    ["two records", ["v=DMARC1; p=reject", "v=DMARC1; p=none"], "fail", /2 DMARC records/],
    ["no policy", ["v=DMARC1; rua=mailto:d@example.com"], "fail", /no p= policy/],
    ["an unknown policy", ["v=DMARC1; p=block; rua=mailto:d@example.com"], "fail", /"p=block" is not a DMARC policy/],
    ["part of the mail", ["v=DMARC1; p=quarantine; pct=20; rua=mailto:d@example.com"], "warn", /pct=20/],
    ["a report address that is not mailto", ["v=DMARC1; p=reject; rua=https://reports.example"], "fail", /not mailto:/],
    ["reject with reports", ["v=DMARC1;p=reject;rua=mailto:a@example.com,mailto:b@example.net"], "pass", /p=reject, reports to mailto:a@example\.com/],
  ])("DMARC %s: %s", async (_, txt, status, summary) => {
    const result = check(await checkDomainDns("example.com", zone({ "_dmarc.example.com": { TXT: txt } })), "dmarc");
    expect(result.status).toBe(status);
    expect(result.summary).toMatch(summary);
  });

  it.each([
    ["no rua", ["v=TLSRPTv1;"], "fail", /no rua= address/],
    ["an http: address", ["v=TLSRPTv1; rua=http://reports.example"], "fail", /neither mailto: nor https:/],
    ["two records", ["v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"], "fail", /2 TLS-RPT records/],
    ["an https: address", ["v=TLSRPTv1; rua=https://reports.example/tls"], "pass", /reports to https:/],
  ])("TLS-RPT %s: %s", async (_, txt, status, summary) => {
    const result = check(await checkDomainDns("example.com", zone({ "_smtp._tls.example.com": { TXT: txt } })), "tls-rpt");
    expect(result.status).toBe(status);
    expect(result.summary).toMatch(summary);
  });

  it.each([
    ["a bad id", { txt: ["v=STSv1; id=2023-06-15"] }, "fail", /id "2023-06-15" is not 1–32 letters and digits/],
    ["two records", { txt: ["v=STSv1; id=1", "v=STSv1; id=2"] }, "fail", /2 MTA-STS records/],
    ["a missing policy file", { status: 404 }, "fail", /could not be used: it answered HTTP 404/],
    ["a redirect", { status: 301 }, "fail", /HTTP 301 \(senders do not follow redirects\)/],
    ["testing mode", { policy: GOOD_POLICY.replace("enforce", "testing") }, "warn", /testing mode/],
    ["mode none", { policy: GOOD_POLICY.replace("enforce", "none") }, "warn", /turns MTA-STS off/],
    ["an unknown mode", { policy: GOOD_POLICY.replace("enforce", "strict") }, "fail", /mode "strict" is not enforce/],
    ["no version", { policy: GOOD_POLICY.replace("version: STSv1\n", "") }, "fail", /version is missing/],
    ["a bad max_age", { policy: GOOD_POLICY.replace("86400", "forever") }, "fail", /max_age "forever"/],
    [
      "mx lines that miss an MX host",
      { policy: GOOD_POLICY.replace("*.mx.cloudflare.net", "route1.mx.cloudflare.net") },
      "fail",
      /do not cover route2\.mx\.cloudflare\.net, route3/,
    ],
    [
      "mx lines that miss one, in testing",
      { policy: "version: STSv1\r\nmode: testing\r\nmx: route1.mx.cloudflare.net\r\nmax_age: 600\r\n" },
      "warn",
      /do not cover route2/,
    ],
  ])("MTA-STS with %s: %s", async (_, setup: { txt?: string[]; status?: number; policy?: string }, status, summary) => {
    const dns = zone(setup.txt === undefined ? {} : { "_mta-sts.example.com": { TXT: setup.txt } });
    const result = check(await checkDomainDns("example.com", dns, { fetchPolicy: policyHost(setup.policy, setup.status) }), "mta-sts");
    expect(result.status).toBe(status);
    expect(result.summary).toMatch(summary);
    expect(result.fix).not.toBeNull();
  });

  it("reports a policy host that cannot be reached as a failed MTA-STS check", async () => {
    const unreachable: PolicyFetch = async () => {
      throw new TypeError("fetch failed: ENOTFOUND mta-sts.example.com");
    };
    const result = check(await checkDomainDns("example.com", zone(), { fetchPolicy: unreachable }), "mta-sts");
    expect(result.status).toBe("fail");
    expect(result.summary).toMatch(/could not be used: fetch failed: ENOTFOUND/);
  });

  it("reports a resolver that cannot answer as error and the domain as unknown, never as failed", async () => {
    const dns = zone();
    for (const name of ["example.com", "_dmarc.example.com", "_mta-sts.example.com", "_smtp._tls.example.com"]) dns.fail(name);
    const report = await checkDomainDns("example.com", dns, { fetchPolicy: policyHost() });
    expect(report.checks.map((c) => c.status)).toEqual(["error", "error", "error", "error", "error"]);
    expect(report.overall).toBe("unknown");
    for (const c of report.checks) {
      expect(c.summary).toMatch(/^The resolver could not be reached or did not answer \(SERVFAIL for .*\), so this was not checked\.$/);
      expect(c.fix).toMatch(/Nothing in the domain's DNS is known to be wrong/);
      expect(c.records).toEqual([]);
    }
  });

  it("keeps the checks the resolver did answer, and only a real failure outweighs a resolver error", async () => {
    const partly = zone().fail("_dmarc.example.com");
    const report = await checkDomainDns("example.com", partly);
    expect(check(report, "dmarc").status).toBe("error");
    expect(check(report, "mx").status).toBe("pass");
    expect(report.overall).toBe("unknown");

    const broken = zone({ "example.com": { MX: [], TXT: [] } }).fail("_dmarc.example.com");
    expect((await checkDomainDns("example.com", broken)).overall).toBe("fail");
  });

  it("asks each name once, MX included though two checks use it", async () => {
    const dns = zone();
    await checkDomainDns("example.com", dns, { fetchPolicy: policyHost() });
    expect(dns.queries.map((q) => `${q.name} ${q.type}`).sort()).toEqual([
      "_dmarc.example.com TXT",
      "_mta-sts.example.com TXT",
      "_smtp._tls.example.com TXT",
      "example.com MX",
      "example.com TXT",
    ]);
  });
});

describe("overallOf", () => {
  it.each([
    [["pass", "pass"], "pass"],
    [["pass", "warn"], "warn"],
    [["warn", "error"], "unknown"],
    [["error", "fail"], "fail"],
  ] as const)("%j → %s", (statuses, overall) => {
    expect(overallOf(statuses.map((status) => ({ status })))).toBe(overall);
  });
});

describe("mxMatches", () => {
  it.each([
    ["route1.mx.cloudflare.net", "*.mx.cloudflare.net", true],
    ["route1.mx.cloudflare.net", "route1.mx.cloudflare.net", true],
    ["a.route1.mx.cloudflare.net", "*.mx.cloudflare.net", false],
    ["mx.cloudflare.net", "*.mx.cloudflare.net", false],
    ["route2.mx.cloudflare.net", "route1.mx.cloudflare.net", false],
  ])("%s against %s: %s", (host, pattern, expected) => {
    expect(mxMatches(host, pattern)).toBe(expected);
  });
});
