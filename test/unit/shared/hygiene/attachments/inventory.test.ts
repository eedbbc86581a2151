import { gzipSync, strToU8, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { DEFAULT_INSPECTION_LIMITS } from "../../../../../shared/hygiene/attachments/budget.ts";
import { buildInventory, inspectMessage } from "../../../../../shared/hygiene/attachments/inventory.ts";
import { MAX_ARCHIVE_DEPTH } from "../../../../../shared/limits.ts";
import { bytes, emailOf, eicar, messageWith, noise, ole2Of, parsed, uuencode } from "./fixtures.ts";

const paths = (files: { path: readonly string[] }[]) => files.map((f) => f.path.join(" > "));

/** A message that forwards `inner` as an attachment (or inline, without a Content-Disposition). */
function forwarding(inner: Uint8Array, name = "fwd.eml", disposition: "attachment" | "inline" | null = "attachment"): Uint8Array {
  if (disposition === null) return messageWith([{ type: "message/rfc822", content: inner, encoding: "7bit" }]);
  return messageWith([{ name, type: "message/rfc822", content: inner, encoding: "7bit", disposition }]);
}

describe("message inventory", () => {
  it("is built once per parsed message and shared by every agent that asks", async () => {
    const email = await parsed(messageWith([{ name: "a.txt", type: "text/plain", content: "a" }]));
    expect(inspectMessage(email)).toBe(inspectMessage(email));
    expect((await inspectMessage(email)).files).toHaveLength(1);
  });

  it("lists the parts of an attached message, and the attachments inside those", async () => {
    const inner = messageWith([{ name: "report.zip", type: "application/zip", content: zipSync({ "run.exe": strToU8("MZ") }) }], { text: "inner text" });
    const inventory = await inspectMessage(await parsed(forwarding(inner)));
    expect(paths(inventory.files)).toEqual(["fwd.eml", "fwd.eml > report.zip", "fwd.eml > report.zip > run.exe"]);
    expect(inventory.bodies.map((b) => b.where)).toContain("fwd.eml > (text)");
    expect(inventory.files[2]?.depth).toBe(2);
  });

  it("stops at attached messages nested deeper than MAX_ARCHIVE_DEPTH", async () => {
    let message = messageWith([], { text: "bottom" });
    for (let i = 0; i <= MAX_ARCHIVE_DEPTH; i++) message = forwarding(message, `level${i}.eml`);
    const inventory = await inspectMessage(await parsed(message));
    expect(inventory.problem?.rule).toBe(`nested deeper than ${MAX_ARCHIVE_DEPTH} containers`);
  });

  it("stops at inline messages the parser left unparsed at its nesting limit", async () => {
    let message = messageWith([], { text: "bottom" });
    for (let i = 0; i < 8; i++) message = forwarding(message, `level${i}.eml`, null);
    const inventory = await inspectMessage(await parsed(message));
    expect(inventory.problem?.rule).toBe("messages nested deeper than the parser follows");
  });

  it("lists files uuencoded into the text body", async () => {
    const email = await parsed(messageWith([], { text: `Here it is:\r\n\r\n${uuencode("tool.exe", bytes("MZP\0"))}\r\nBye` }));
    const inventory = await inspectMessage(email);
    expect(inventory.files.map((f) => [f.name, f.kind])).toEqual([
      ["", null],
      ["tool.exe", "pe"],
    ]);
  });

  it("records the start of each body, and each line of the text body that starts like the test string", async () => {
    const email = emailOf([], `Hello\n${eicar()}\n\nmore text\nnot at the start ${eicar()}`);
    const inventory = await buildInventory(email, DEFAULT_INSPECTION_LIMITS);
    expect(inventory.bodies.map((b) => b.size)).toEqual([6, 70]);
  });

  describe("cost", () => {
    const SMALL = 20 * 1024;
    const LARGE = 20 * 1024 * 1024;
    /** Attachments of one kind at a given size, each padded out with data of that size. */
    const kinds: [string, (size: number) => { filename: string; mimeType: string; content: Uint8Array }][] = [
      ["a binary file", (size) => ({ filename: "data.bin", mimeType: "application/octet-stream", content: noise(size) })],
      ["a PDF", (size) => ({ filename: "report.pdf", mimeType: "application/pdf", content: pdfOf(size) })],
      [
        "a zip with a deflated member",
        (size) => ({ filename: "data.zip", mimeType: "application/zip", content: zipSync({ "data.csv": [noise(size), { level: 1 }] }) }),
      ],
      ["a gzip file", (size) => ({ filename: "data.csv.gz", mimeType: "application/gzip", content: gzipSync(noise(size), { level: 1 }) })],
      [
        "a legacy Office document",
        (size) => ({ filename: "old.doc", mimeType: "application/msword", content: ole2Of(["WordDocument", "1Table"], { padding: size }) }),
      ],
      ["a uuencoded file", (size) => ({ filename: "data.uu", mimeType: "application/octet-stream", content: bytes(uuencode("data.bin", noise(size / 2))) })],
    ];

    it.each(kinds)("of %s does not grow with its size (20 KB and 20 MB cost the same)", async (_, make) => {
      const [small, large] = await Promise.all([SMALL, LARGE].map((size) => buildInventory(emailOf([make(size)]), DEFAULT_INSPECTION_LIMITS)));
      expect(small!.problem).toBeNull();
      expect(large!.problem).toBeNull();
      const cost = (w: { scanned: number; inflated: number }) => w.scanned + w.inflated;
      // A few bytes apart at most (a disc-image probe that only the large file is long enough for,
      // DEFLATE blocks of a different shape); a thousand times the data would show as megabytes.
      expect(Math.abs(cost(large!.work) - cost(small!.work))).toBeLessThan(2048);
      expect(cost(large!.work)).toBeLessThan(64 * 1024);
      expect(large!.work.hashed).toBe(0);
    });
  });
});

/** A PDF of about `size` bytes, its catalog at the start and trailer at the end. */
function pdfOf(size: number): Uint8Array {
  const head = bytes("%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Length 3 >> stream\n");
  const tail = bytes("\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
  const out = new Uint8Array(Math.max(size, head.length + tail.length));
  out.set(head);
  out.set(noise(out.length - head.length - tail.length), head.length);
  out.set(tail, out.length - tail.length);
  return out;
}
