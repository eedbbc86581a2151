import { describe, expect, it } from "vitest";
import { tokenHash } from "../../../../../shared/hygiene/content/hash.ts";
import { tokenHashes, tokenize } from "../../../../../shared/hygiene/content/tokenize.ts";
import { HeaderIndex, messageView } from "../../../../../shared/hygiene/content/view.ts";
import { parseMessage } from "../../../../../shared/hygiene/parse.ts";
import { CONTENT_MAX_TOKENS, CONTENT_TEXT_SCAN_MAX_CHARS } from "../../../../../shared/limits.ts";
import { buildMessage, bytesOf, type MessageOptions } from "../../../../helpers/mail.ts";

async function tokensOf(options: MessageOptions | string): Promise<Set<string>> {
  const parsed = await parseMessage(bytesOf(typeof options === "string" ? options : buildMessage(options)));
  if (!parsed.ok) throw new Error("test message did not parse");
  return tokenize(messageView(parsed.email));
}

describe("tokenize", () => {
  it("lower-cases words, strips the punctuation around them and drops words under three letters", async () => {
    const tokens = await tokensOf({ body: 'Hello, "World"! An ok (offer)...\r\n' });
    expect(tokens).toContain("hello");
    expect(tokens).toContain("world");
    expect(tokens).toContain("offer");
    expect(tokens).not.toContain("an");
    expect(tokens).not.toContain("ok");
    expect(tokens).not.toContain("world!");
  });

  it("keeps no numbers, IDs or dates: only words with at most two digits", async () => {
    const tokens = await tokensOf({ body: "Order 4711 ref A1B2C3D4 sent 2002-08-22 via mp3 and win2000\r\n" });
    expect(tokens).toContain("mp3");
    for (const t of ["4711", "a1b2c3d4", "2002-08-22", "win2000"]) expect(tokens).not.toContain(t);
  });

  it("turns prices, percentages, long runs and addresses into coarse tokens", async () => {
    const tokens = await tokensOf({ body: "Only $19.99, save 70%! antidisestablishmentarianism Write to Sales@Shop.Example.com\r\n" });
    expect(tokens).toContain("$money");
    expect(tokens).toContain("%percent");
    expect(tokens).toContain("skip:a:20");
    expect(tokens).toContain("email:example.com");
    expect([...tokens].some((t) => t.includes("sales@"))).toBe(false);
  });

  it("prefixes subject words, the From: domain and display name", async () => {
    const tokens = await tokensOf({ subject: "FREE Money!", from: "Lucky Winner <win@mail.prizes.example>", body: "hello there\r\n" });
    expect(tokens).toContain("subject:free");
    expect(tokens).toContain("subject:money");
    expect(tokens).toContain("subject:has:!");
    expect(tokens).toContain("from:dom:prizes.example");
    expect(tokens).toContain("from:name:lucky");
  });

  it("takes link hosts, domains, TLDs and path words, never a link as a word", async () => {
    const tokens = await tokensOf({ body: "Go to https://www.Shop.Example.com/special/offer.html?id=12345 now\r\n" });
    expect(tokens).toContain("url:scheme:https");
    expect(tokens).toContain("url:host:shop.example.com");
    expect(tokens).toContain("url:dom:example.com");
    expect(tokens).toContain("url:tld:com");
    expect(tokens).toContain("url:path:special");
    expect(tokens).toContain("url:path:offer");
    expect([...tokens].some((t) => t.startsWith("https") || t.includes("12345"))).toBe(false);
  });

  it("reads the visible text of HTML, not its tags, and the hosts of its links", async () => {
    const html = "<html><body><p>Cheap <b>watches</b></p><a href='http://watches.example/buy'>here</a><script>var secretword=1</script></body></html>";
    const tokens = await tokensOf({ headers: { "Content-Type": "text/html; charset=utf-8" }, body: html });
    expect(tokens).toContain("cheap");
    expect(tokens).toContain("watches");
    expect(tokens).toContain("url:dom:watches.example");
    for (const t of ["html", "body", "<p>", "script", "secretword"]) expect(tokens).not.toContain(t);
  });

  it("marks replies and shouting, and nothing about the Message-ID, Date or mailer", async () => {
    const shouting = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? "AMAZING" : "deal")).join(" ");
    const tokens = await tokensOf({
      headers: { "In-Reply-To": "<abc@example.net>", "X-Mailer": "Microsoft Outlook Express 6", "Message-ID": "<uniqueid42@example.net>" },
      body: `${shouting}!!!\r\n`,
    });
    expect(tokens).toContain("hdr:in-reply-to");
    expect(tokens).toContain("shape:caps:high");
    expect(tokens).toContain("shape:!!!");
    expect([...tokens].some((t) => /uniqueid|outlook|microsoft|nov|2026/.test(t))).toBe(false);
  });

  it("splits CJK text, which has no spaces, into character pairs", async () => {
    const tokens = await tokensOf({ body: "欢迎光临\r\n" });
    expect(tokens).toContain("欢迎");
    expect(tokens).toContain("迎光");
    expect(tokens).toContain("光临");
  });

  it("takes a long run of punctuation and letters in linear time, as one skip token", async () => {
    const started = performance.now();
    const tokens = await tokensOf({ body: `a${"!".repeat(60_000)}a\r\n` });
    expect(performance.now() - started).toBeLessThan(500);
    expect(tokens).toContain("skip:a:100");
  });

  it("reads no further than the text limit", async () => {
    const body = `${"filler ".repeat(Math.ceil(CONTENT_TEXT_SCAN_MAX_CHARS / 7) + 10)}beyondthelimit\r\n`;
    const tokens = await tokensOf({ body });
    expect(tokens).toContain("filler");
    expect(tokens).not.toContain("beyondthelimit");
  });

  it("stops at the token cap however many distinct words a message has", async () => {
    const letters = (n: number): string => (n < 26 ? "" : letters(Math.floor(n / 26) - 1)) + String.fromCharCode(97 + (n % 26));
    const words = Array.from({ length: CONTENT_MAX_TOKENS + 2000 }, (_, i) => `word${letters(i)}`);
    const tokens = await tokensOf({ body: words.join(" ") });
    expect(tokens.size).toBe(CONTENT_MAX_TOKENS);
  });

  it("gives the model the hashes of exactly these tokens, in the same order", async () => {
    const bodies = [
      'Hello, "World"! An ok (offer)... $19.99 save 70%! 2002-08-22 mp3 win2000\r\n',
      "Write to Sales@Shop.Example.com or visit https://www.Shop.Example.com/special/offer.html?id=1 www.x.example HTTP://Y.example\r\n",
      "AMAZING DEAL Ünïcödé ÉCOLE straße İstanbul 欢迎光临 mixed欢迎 emoji😀word \u00a0nbsp\u2003em-space\r\n",
      `${"x".repeat(70)} --- ... $ % $$ %% a@b @home foo@bar antidisestablishmentarianism ${"Q".repeat(13)}\r\n`,
    ];
    for (const body of bodies) {
      const parsed = await parseMessage(bytesOf(buildMessage({ subject: "FREE Money!! Ünï", from: "Lucky Winner Ü <win@mail.prizes.example>", body })));
      if (!parsed.ok) throw new Error("test message did not parse");
      const view = messageView(parsed.email);
      expect(tokenHashes(view)).toEqual([...tokenize(view)].map(tokenHash));
    }
  });
});

describe("HeaderIndex", () => {
  it("gives every value of a header name, in order, and nothing for a name the message lacks", () => {
    const index = new HeaderIndex([
      { key: "received", originalKey: "Received", value: "from a" },
      { key: "from", originalKey: "From", value: "x@a.example" },
      { key: "received", originalKey: "Received", value: "from b" },
    ]);
    expect(index.get("received")).toEqual(["from a", "from b"]);
    expect(index.get("received")).toBe(index.get("received"));
    expect(index.has("from")).toBe(true);
    expect(index.get("sender")).toBeUndefined();
    expect(index.has("sender")).toBe(false);
  });
});
