import { describe, expect, it } from "vitest";
import { scanHtml } from "../../../../../shared/hygiene/content/html.ts";
import { CONTENT_RULES, runRules } from "../../../../../shared/hygiene/content/rules.ts";
import { linkTargets } from "../../../../../shared/hygiene/content/url-rules.ts";
import { parseUrl, registrableDomain } from "../../../../../shared/hygiene/content/urls.ts";
import { messageView } from "../../../../../shared/hygiene/content/view.ts";
import { parseMessage } from "../../../../../shared/hygiene/parse.ts";
import type { AuthResults } from "../../../../../shared/hygiene/types.ts";
import { readCorpus } from "../../../../helpers/corpus.ts";
import { buildMessage, bytesOf, type MessageOptions } from "../../../../helpers/mail.ts";

const NOW = Date.parse("2026-11-21T09:00:00Z");

async function hits(message: MessageOptions | Uint8Array | string, auth: AuthResults | null = null): Promise<string[]> {
  const raw = message instanceof Uint8Array || typeof message === "string" ? bytesOf(message) : bytesOf(buildMessage(message));
  const parsed = await parseMessage(raw);
  if (!parsed.ok) throw new Error("test message did not parse");
  return runRules({ view: messageView(parsed.email), auth, now: NOW }).map((h) => h.name);
}

const corpusHits = async (name: string) => hits(await readCorpus(`hostile/phishing-url/${name}.eml`));

describe("content rules", () => {
  it("have unique names, positive scores and a description each", () => {
    expect(new Set(CONTENT_RULES.map((r) => r.name)).size).toBe(CONTENT_RULES.length);
    for (const rule of CONTENT_RULES) {
      expect(rule.name).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(rule.score).toBeGreaterThan(0);
      expect(rule.description.length).toBeGreaterThan(20);
    }
  });

  it("fire on nothing in an ordinary message", async () => {
    expect(await hits({ body: "See https://www.example.com/docs for the details.\r\n" })).toEqual([]);
  });

  describe("headers", () => {
    it.each([
      ["an address", '"service@paypal.com" <alerts@evil.example>'],
      ["a bare domain", "PayPal.com <alerts@evil.example>"],
    ])("flag a display name that shows %s other than the sender's", async (_, from) => {
      expect(await hits({ from })).toContain("FROM_NAME_SPOOF");
    });

    it.each(["Craig R.Hughes <craig@deersoft.example>", "Amazon.com <store-news@amazon.com>", "Service <service@paypal.com>"])(
      "do not flag initials or a name that matches the sender: %s",
      async (from) => {
        expect(await hits({ from })).not.toContain("FROM_NAME_SPOOF");
      },
    );

    it("stay fast on a crafted display name", async () => {
      const started = performance.now();
      expect(await hits({ from: `"${"a".repeat(100_000)}" <x@example.com>` })).not.toContain("FROM_NAME_SPOOF");
      expect(performance.now() - started).toBeLessThan(500);
    });

    it("flag several From: headers, or several From: addresses without a Sender:", async () => {
      expect(await corpusHits("rspamd-phish_sender")).toContain("FROM_MULTIPLE");
      expect(await corpusHits("rspamd-phish_sender3")).toContain("FROM_MULTIPLE");
      expect(await hits({ from: "a@one.example, b@two.example" })).toContain("FROM_MULTIPLE");
      expect(await hits({ from: "a@one.example, b@two.example", headers: { Sender: "a@one.example" } })).not.toContain("FROM_MULTIPLE");
      expect(await hits({ from: '"Doe, Jane" <jane@one.example>' })).not.toContain("FROM_MULTIPLE");
    });

    it("flag a Date: more than a day ahead, and a missing Date:, Message-ID: or From:", async () => {
      expect(await hits({ headers: { Date: "Mon, 23 Nov 2026 10:00:00 +0000" } })).toContain("DATE_IN_FUTURE");
      expect(await hits({ headers: { Date: "Sat, 21 Nov 2026 20:00:00 +0000" } })).not.toContain("DATE_IN_FUTURE");
      const bare = "To: alice@example.com\r\nSubject: hi\r\n\r\nhello\r\n";
      expect(await hits(bare)).toEqual(["FROM_MISSING", "DATE_MISSING", "MESSAGE_ID_MISSING"]);
    });

    it("flag a subject in capitals, not an acronym", async () => {
      expect(await hits({ subject: "MAKE MONEY FAST FROM HOME" })).toContain("SUBJECT_ALL_CAPS");
      expect(await hits({ subject: "NASA and the IETF meet" })).not.toContain("SUBJECT_ALL_CAPS");
      expect(await hits({ subject: "URGENT" })).not.toContain("SUBJECT_ALL_CAPS");
    });
  });

  describe("links, on the phishing corpus", () => {
    it.each([
      ["rspamd-url_suspect_numeric_ip", ["URL_NUMERIC_IP"]],
      ["rspamd-url_suspect_numeric_ip_user", ["URL_NUMERIC_IP", "URL_USERINFO"]],
      ["rspamd-url_suspect_user_no_password", ["URL_USERINFO"]],
      ["rspamd-url_suspect_long_user", ["URL_USERINFO"]],
      ["rspamd-url_suspect_very_long_user", ["URL_USERINFO"]],
      ["rspamd-url_suspect_multiple_at", ["URL_USERINFO"]],
      ["rspamd-url_obfuscated_hxxp", ["URL_OBFUSCATED"]],
      ["rspamd-url_obfuscated_bracket_dots", ["URL_OBFUSCATED"]],
      ["rspamd-url_obfuscated_spaced", ["URL_OBFUSCATED"]],
      ["rspamd-url_obfuscated_word_dot", ["URL_OBFUSCATED_WORD_DOT"]],
      ["rspamd-phishing1", ["URL_TEXT_MISMATCH"]],
      ["rspamd-phishing2", ["URL_TEXT_MISMATCH"]],
      ["rspamd-phishing3", ["URL_TEXT_MISMATCH"]],
      ["rspamd-phishing_same_label_cross_tld", ["URL_TEXT_MISMATCH"]],
      ["rspamd-phishing_query_nested_fire", ["URL_TEXT_MISMATCH"]],
      ["rspamd-phishing_query_multi", ["URL_TEXT_MISMATCH"]],
      ["rspamd-phishing_query_safe", []],
      ["rspamd-phishing_query_nested", []],
      ["rspamd-url_suspect_normal", []],
      ["rspamd-url_suspect_schemeless_email_href", []],
    ])("%s → %j", async (name, expected) => {
      const fired = (await corpusHits(name)).filter((n) => n.startsWith("URL_"));
      expect(fired).toEqual(expected);
    });

    it.each([
      ["Go to hxxp://evil.example/login", "URL_OBFUSCATED"],
      ["Go to HXXPS://evil.example/login", "URL_OBFUSCATED"],
      ["Go to (h**p://evil.example)", "URL_OBFUSCATED"],
      ["Go to xhxxp://evil.example and http://fine.example/", null],
      ["Go to hxxs://evil.example or hxxpss://evil.example", null],
      ["Visit secure-login[.]example today", "URL_OBFUSCATED"],
      ["Visit secure-login(DOT)example today", "URL_OBFUSCATED"],
      ["Type h t t p s : / / evil.example", "URL_OBFUSCATED"],
      ["Type H\tT  T\u00a0P\u3000S:// evil.example", "URL_OBFUSCATED"],
      ["Type h t t p:// evil.example (at 10:30: group: done)", "URL_OBFUSCATED"],
      ["Time 10:30, step : one, map s: two, http://fine.example/", null],
      ["Write to jo at example dot com", "URL_OBFUSCATED_WORD_DOT"],
      ["A dotted line. Nothing obfuscated: http://example.com/dot", null],
    ])("read %j as %s", async (body, rule) => {
      const fired = (await hits({ body: `${body}\r\n` })).filter((n) => n.startsWith("URL_OBFUSCATED"));
      expect(fired).toEqual(rule === null ? [] : [rule]);
    });

    it("follow redirectors that carry their target in a query parameter", () => {
      expect(linkTargets("http://r.example/?u=https%3A%2F%2Fbank.example%2F")).toEqual(["bank.example"]);
      expect(linkTargets("http://www.example.net/")).toEqual(["example.net"]);
      expect(linkTargets("http://r.example/?a=http%3A%2F%2Fone.example&b=http%3A%2F%2Ftwo.example")).toEqual(["one.example", "two.example"]);
      const fanOut = `http://r.example/?${Array.from({ length: 50 }, (_, i) => `u${i}=${encodeURIComponent(`http://h${i}.example/?v=http://x.example/`)}`).join("&")}`;
      expect(linkTargets(fanOut).length).toBeLessThanOrEqual(8);
    });

    it("see IP hosts in the forms a browser accepts, and registrable domains", () => {
      expect(parseUrl("http://3405803818/login")).toMatchObject({ host: "203.0.113.42", ip: true });
      expect(parseUrl("http://0xCB.0.0x71.42/")).toMatchObject({ host: "203.0.113.42", ip: true });
      expect(parseUrl("www.Example.COM/x")).toMatchObject({ scheme: "http", host: "www.example.com", domain: "example.com", ip: false });
      expect(parseUrl("not a url")).toBeNull();
      expect(registrableDomain("login.bank.co.uk")).toBe("bank.co.uk");
      expect(registrableDomain("a.b.example.com")).toBe("example.com");
    });
  });

  describe("authentication", () => {
    const auth = (patch: Partial<AuthResults>): AuthResults => ({
      spf: { result: "pass", domain: "sender.example" },
      dkim: [{ result: "pass", domain: "sender.example", selector: "s1" }],
      dmarc: { result: "pass", domain: "sender.example", policy: "reject", aligned: { spf: true, dkim: true } },
      arc: { result: "none", instances: 0 },
      ...patch,
    });

    it("add nothing for passing results or when authentication has not run", async () => {
      expect(await hits({}, auth({}))).toEqual([]);
      expect(await hits({}, null)).toEqual([]);
    });

    it("score SPF fail and softfail, DKIM fail with no passing signature, and DMARC fail", async () => {
      expect(await hits({}, auth({ spf: { result: "fail", domain: "sender.example" } }))).toEqual(["AUTH_SPF_FAIL"]);
      expect(await hits({}, auth({ spf: { result: "softfail", domain: "sender.example" } }))).toEqual(["AUTH_SPF_SOFTFAIL"]);
      expect(await hits({}, auth({ dkim: [{ result: "fail", domain: "sender.example", selector: "s1" }] }))).toEqual(["AUTH_DKIM_FAIL"]);
      const oneGood = [
        { result: "fail" as const, domain: "relay.example", selector: "x" },
        { result: "pass" as const, domain: "sender.example", selector: "s1" },
      ];
      expect(await hits({}, auth({ dkim: oneGood }))).toEqual([]);
      const dmarc = { result: "fail" as const, domain: "sender.example", policy: "none" as const, aligned: { spf: false, dkim: false } };
      expect(await hits({}, auth({ dmarc }))).toEqual(["AUTH_DMARC_FAIL"]);
    });
  });
});

describe("scanHtml", () => {
  it("joins text around comments and inline tags, breaks at block tags and skips scripts and styles", () => {
    const scan = scanHtml("<p>V<!-- x -->ia<b></b>gra</p><div>now</div><script>var hidden=1</script><style>.x{}</style>&amp; more", 10_000);
    expect(scan.text).toContain("Viagra");
    expect(scan.text).toMatch(/Viagra\s+now/);
    expect(scan.text).not.toMatch(/hidden|\.x/);
    expect(scan.text).toContain("& more");
    expect([...scan.tags]).toEqual(expect.arrayContaining(["p", "b", "div", "script", "style"]));
  });

  it("records links with their visible text, and form actions", () => {
    const scan = scanHtml(`<a class=x HREF="http://a.example/?q=1&amp;r=2">Visit <b>b.example</b></a><form action='https://c.example/post'></form>`, 10_000);
    expect(scan.links).toEqual([
      { href: "http://a.example/?q=1&r=2", text: "Visit b.example" },
      { href: "https://c.example/post", text: "" },
    ]);
  });

  it("stays linear on unclosed tags, quotes and comments", () => {
    const hostile = '<a href="x<!--'.repeat(20_000) + "-->" + "<a href='y'>".repeat(20_000);
    const started = performance.now();
    const scan = scanHtml(hostile, 1_000_000);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(scan.links.length).toBe(200);
  });
});
