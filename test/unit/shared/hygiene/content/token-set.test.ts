import { describe, expect, it } from "vitest";
import { tokenHash } from "../../../../../shared/hygiene/content/hash.ts";
import { prefix, TokenSet } from "../../../../../shared/hygiene/content/token-set.ts";
import { CONTENT_MAX_TOKENS } from "../../../../../shared/limits.ts";

describe("TokenSet", () => {
  it("keeps each token once, in the order first added, as text and as its hash", () => {
    const out = new TokenSet(true);
    for (const t of ["offer", "free", "offer", "url:dom:example.com", "free"]) out.add(t);
    expect(out.texts).toEqual(["offer", "free", "url:dom:example.com"]);
    expect(out.hashes()).toEqual(["offer", "free", "url:dom:example.com"].map(tokenHash));
  });

  it("hashes an ASCII slice after a prefix, lower-cased, as the hash of the joined text", () => {
    const out = new TokenSet(true);
    const text = "Re: FREE Offer";
    out.addAscii(prefix("subject:"), text, 4, 8);
    out.add("subject:free");
    expect(out.texts).toEqual(["subject:free"]);
    expect(out.hashes()).toEqual([tokenHash("subject:free")]);
  });

  it("adds a token made of parts as the joined text would be", () => {
    const out = new TokenSet(true);
    out.addJoined(prefix(""), "url:host:", "www.shop.example", 4);
    out.addJoined(prefix("subject:"), "$money", "");
    out.addJoined(prefix(""), "url:path:", "/special/offer", 1, 8);
    expect(out.texts).toEqual(["url:host:shop.example", "subject:$money", "url:path:special"]);
    expect(out.hashes()).toEqual(out.texts!.map(tokenHash));
  });

  it("holds up to CONTENT_MAX_TOKENS however many it is given, across its table sizes", () => {
    const out = new TokenSet(false);
    const words = Array.from({ length: CONTENT_MAX_TOKENS + 500 }, (_, i) => `w${i}`);
    for (const w of words) out.add(w);
    for (const w of words.slice(0, 100)) out.add(w); // repeats are still recognised after growing
    expect(out.full).toBe(true);
    expect(out.hashes()).toEqual(words.slice(0, CONTENT_MAX_TOKENS).map(tokenHash));
  });

  it("starts empty for every message, whatever the one before held", () => {
    const first = new TokenSet(false);
    for (let i = 0; i < 3000; i++) first.add(`a${i}`);
    const second = new TokenSet(true);
    second.add("a1");
    second.add("b");
    expect(second.texts).toEqual(["a1", "b"]);
    expect(second.hashes()).toEqual([tokenHash("a1"), tokenHash("b")]);
  });
});
