import { describe, expect, it } from "vitest";
import { tokenHash } from "../../../../../shared/hygiene/content/hash.ts";
import { prefix, TokenSet } from "../../../../../shared/hygiene/content/token-set.ts";
import { addWords } from "../../../../../shared/hygiene/content/words.ts";

function words(text: string, at = "", countShape = false): { tokens: string[]; words: number; capitals: number } {
  const out = new TokenSet(true);
  addWords(text, prefix(at), out, countShape);
  return { tokens: out.texts!, words: out.words, capitals: out.capitalWords };
}

describe("addWords", () => {
  const cases: [string, string[]][] = [
    ['Hello, "World"! An ok (offer)...', ["hello", "world", "offer"]],
    ["Only $19.99, save 70%!", ["only", "$money", "save", "%percent"]],
    ["mp3 win2000 4711 A1B2C3 2002-08-22", ["mp3"]],
    ["Write to Sales@Shop.Example.com or @home", ["write", "email:example.com", "home"]],
    ["https://x.example/ www.y.example HTTP://Z ftp:stuff", []],
    ["antidisestablishmentarianism", ["skip:a:20"]],
    [`${"z".repeat(70)} http://${"a".repeat(70)}`, ["skip:z:70"]],
    ["$ % -- $$ %%", []],
    ["straße ÉCOLE İstanbul", ["straße", "école", "i̇stanbul"]],
    ["欢迎光临", ["欢迎", "迎光", "光临"]],
    ["tab\there\u00a0nbsp\u2003em\u3000ideographic", ["tab", "here", "nbsp", "ideographic"]],
  ];

  it.each(cases)("reads %j as %j", (text, expected) => {
    expect(words(text).tokens).toEqual(expected);
  });

  it.each(cases)("hashes each token of %j as its text", (text) => {
    // The hash is taken while the word is read; it must be the hash of the token it stands for.
    for (const at of ["", "subject:"]) {
      const out = new TokenSet(true);
      addWords(`${text} Hello, "World"! (Mixed-Case) wOrDs.`, prefix(at), out, true);
      expect(out.hashes()).toEqual(out.texts!.map(tokenHash));
    }
  });

  it("puts the prefix in front of every token", () => {
    expect(words("FREE Money $5", "subject:").tokens).toEqual(["subject:free", "subject:money", "subject:$money"]);
  });

  it("counts words of three or more characters, and those written in capitals, when asked", () => {
    expect(words("AMAZING deal OK NOW ÉCOLE 123", "", true)).toMatchObject({ words: 5, capitals: 3 });
    expect(words("AMAZING deal", "", false)).toMatchObject({ words: 0, capitals: 0 });
  });
});
