import { describe, expect, it } from "vitest";
import { toBase64 } from "../../../../../../shared/base64.ts";
import { findGtube, GTUBE } from "../../../../../../shared/hygiene/content/gtube.ts";
import { identityPattern, searchImage } from "../../../../../../shared/hygiene/content/ocr/search.ts";
import { parseMessage } from "../../../../../../shared/hygiene/parse.ts";
import { OCR_MAX_BYTES_PER_PIXEL, OCR_MAX_COMPARISONS, OCR_MAX_GLYPHS, OCR_MAX_IMAGES, OCR_MAX_LINE_ROWS } from "../../../../../../shared/limits.ts";
import { readCorpus } from "../../../../../helpers/corpus.ts";
import { bytesOf } from "../../../../../helpers/mail.ts";
import { drawText, encodePng, type Raster } from "../../../../../helpers/png.ts";

async function parse(raw: Uint8Array) {
  const parsed = await parseMessage(raw);
  if (!parsed.ok) throw new Error("test message did not parse");
  return parsed.email;
}

const attachmentBytes = (content: string | ArrayBuffer | Uint8Array) =>
  typeof content === "string" ? new TextEncoder().encode(content) : content instanceof Uint8Array ? content : new Uint8Array(content);

const found = (lines: string[], scale = 3) => searchImage(encodePng(drawText(lines, scale)), GTUBE).found;

/** GTUBE with the character at `at` replaced. */
const replaced = (at: number, char: string) => GTUBE.slice(0, at) + char + GTUBE.slice(at + 1);

describe("GTUBE drawn in an image", () => {
  it("finds the string in sa-gtube_png.eml's 4963×3508 1-bit scan, and names the image", async () => {
    const email = await parse(await readCorpus("hostile/gtube/sa-gtube_png.eml"));
    expect(findGtube(email)).toBe("image gtube.png");
    const png = attachmentBytes(email.attachments[0]!.content);
    const result = searchImage(png, GTUBE);
    expect(result).toMatchObject({ found: true, read: "stopped" });
    // It stops at the string's line: the lines under it are never read.
    expect(result.lines).toBeLessThan(12);
  });

  it("does not find it in the near miss, whose text only talks about GTUBE", async () => {
    expect(findGtube(await parse(await readCorpus("hostile/gtube/sa-not_gtube.eml")))).toBeNull();
  });

  it("knows no font: finds the string in a typeface it has never seen, at any scale, and wrapped over two lines", () => {
    expect(found([GTUBE], 2)).toBe(true);
    expect(found([GTUBE], 5)).toBe(true);
    expect(found(["SEE DATA AT END", GTUBE, "END"])).toBe(true);
    expect(found([GTUBE.slice(0, 40), GTUBE.slice(40)])).toBe(true);
  });

  it("takes every run of glyphs that repeats as GTUBE does for the string — and nothing else", () => {
    expect(identityPattern("ABCAB")).toEqual([0, 1, 2, 0, 1]);
    // A cipher of the string (the same pattern of repeats) is found: the pattern is what is read.
    const cipher = [...GTUBE].map((c) => ({ N: "O", Q: "K" })[c as "N" | "Q"] ?? c).join("");
    expect(found([cipher])).toBe(true);
    // One character swapped for another of the string, at the start, the middle, a repeat or the end.
    for (const [at, char] of [
      [0, "J"],
      [13, "B"],
      [27, "-"],
      [45, "I"],
      [67, "C"],
    ] as const)
      expect(found([replaced(at, char)]), `${at} → ${char}`).toBe(false);
    // A repeated character swapped for one the string lacks; a character dropped; one doubled.
    expect(found([replaced(26, "K")])).toBe(false);
    expect(found([GTUBE.slice(0, 30) + GTUBE.slice(31)])).toBe(false);
    expect(found([GTUBE.slice(0, 30) + GTUBE.slice(29)])).toBe(false);
  });

  it("does not take text, repeats of one glyph, or symbols for the string", () => {
    expect(found(["N".repeat(GTUBE.length)])).toBe(false);
    expect(found(["-*".repeat(GTUBE.length / 2), "*-".repeat(GTUBE.length / 2)])).toBe(false);
    const text = "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG 1234.".replace(/[^A-Z0-9.* -]/g, "").replace(/[FHPVWYZ]/g, "E");
    expect(found([text, text, text])).toBe(false);
  });

  it("does not read light text on a dark page, nor text beside a picture taller than a line", () => {
    // Past 64 rows, more than half ink is no page of text: the rest is not read.
    expect(searchImage(encodePng(drawText(["END", GTUBE, "END"]), { inverted: true }), GTUBE)).toMatchObject({ found: false, read: "not a page" });
    const raster = drawText([GTUBE]);
    const tall: Raster = { width: raster.width + 10, height: OCR_MAX_LINE_ROWS + 20, ink: new Uint8Array((raster.width + 10) * (OCR_MAX_LINE_ROWS + 20)) };
    for (let y = 0; y < raster.height; y++) tall.ink.set(raster.ink.subarray(y * raster.width, (y + 1) * raster.width), y * tall.width);
    for (let y = 0; y < tall.height - 5; y++) tall.ink.fill(1, y * tall.width + raster.width + 2, y * tall.width + raster.width + 6);
    expect(searchImage(encodePng(tall), GTUBE)).toMatchObject({ found: false, read: "done", lines: 0 });
  });

  it(`gives up after ${OCR_MAX_GLYPHS} glyphs, or ${OCR_MAX_COMPARISONS} glyph comparisons`, () => {
    // Letters in a fixed pseudo-random order, like text: a few comparisons a glyph.
    let seed = 7;
    const letter = () => "ABCDEGIJKLMNOQRSTUX1234"[(seed = (seed * 48271) % 2147483647) % 23];
    const lines = Array.from({ length: Math.ceil(OCR_MAX_GLYPHS / 1000) + 1 }, () => Array.from({ length: 1000 }, letter).join(""));
    const long = searchImage(encodePng(drawText([...lines, GTUBE], 2), { format: "gray1" }), GTUBE);
    expect(long).toMatchObject({ found: false, read: "stopped", glyphs: OCR_MAX_GLYPHS });
    expect(long.comparisons).toBeLessThan(OCR_MAX_COMPARISONS);
    // Every run of one glyph repeated passes the first test and costs ~150 comparisons.
    const same = Array.from({ length: 20 }, () => "N".repeat(GTUBE.length));
    const costly = searchImage(encodePng(drawText([...same, GTUBE], 2), { format: "gray1" }), GTUBE);
    expect(costly).toMatchObject({ found: false, read: "stopped" });
    expect(costly.comparisons).toBeGreaterThanOrEqual(OCR_MAX_COMPARISONS);
    expect(costly.lines).toBeLessThan(same.length);
  });

  it("does not inflate an image that compresses like a photograph rather than print", () => {
    const png = encodePng(drawText([GTUBE]));
    const raster = drawText([GTUBE]);
    // The same picture with enough metadata to pass OCR_MAX_BYTES_PER_PIXEL (and 4 KiB allowed for chunks).
    const bloated = new Uint8Array(png.length + 4096 + Math.ceil(raster.width * raster.height * OCR_MAX_BYTES_PER_PIXEL));
    bloated.set(png.subarray(0, 33));
    bloated.set(png.subarray(33), bloated.length - (png.length - 33));
    new DataView(bloated.buffer).setUint32(33, bloated.length - png.length - 12);
    bloated.set([0x74, 0x45, 0x58, 0x74], 37); // tEXt
    expect(searchImage(png, GTUBE).found).toBe(true);
    expect(searchImage(bloated, GTUBE)).toMatchObject({ found: false, read: "not a page", lines: 0 });
  });

  it(`reads the first ${OCR_MAX_IMAGES} PNG images of a message, after its text and other attachments`, async () => {
    const other = encodePng(drawText(["SEE DATA AT END"]));
    const gtube = encodePng(drawText([GTUBE]));
    const message = (images: Uint8Array[], text = "see the pictures") =>
      bytesOf(
        [
          "From: a@sender.example",
          "To: alice@example.com",
          "Subject: pictures",
          'Content-Type: multipart/mixed; boundary="b"',
          "",
          "--b",
          "Content-Type: text/plain",
          "",
          text,
          ...images.flatMap((png, i) => [
            "--b",
            `Content-Type: image/png; name="p${i}.png"`,
            "Content-Transfer-Encoding: base64",
            "",
            toBase64(png).replace(/.{76}/g, "$&\r\n"),
          ]),
          "--b--",
          "",
        ].join("\r\n"),
      );
    const first = Array.from({ length: OCR_MAX_IMAGES - 1 }, () => other);
    expect(findGtube(await parse(message([...first, gtube])))).toBe(`image p${OCR_MAX_IMAGES - 1}.png`);
    expect(findGtube(await parse(message([...first, other, gtube])))).toBeNull();
    expect(findGtube(await parse(message([gtube], GTUBE)))).toBe("text");
  });

  it("does not read glyphs too small to tell apart", () => {
    expect(searchImage(encodePng(drawText([GTUBE], 1)), GTUBE)).toMatchObject({ found: false, lines: 1, comparisons: 0 });
  });
});
