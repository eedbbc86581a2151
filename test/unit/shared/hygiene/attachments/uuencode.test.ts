import { describe, expect, it } from "vitest";
import { decodeUu, uuBlockAt, uuBlocksIn } from "../../../../../shared/hygiene/attachments/uuencode.ts";
import { bytes, uuencode } from "./fixtures.ts";

describe("uuencoded blocks", () => {
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);

  it("decodes a block back to its bytes", () => {
    const text = bytes(uuencode("data.bin", data));
    const block = uuBlockAt(text);
    expect(block).toMatchObject({ name: "data.bin", base64: false });
    const decoded = decodeUu(text, block!, Number.MAX_SAFE_INTEGER);
    expect(decoded.ended).toBe(true);
    expect([...decoded.bytes]).toEqual([...data]);
  });

  it("decodes only as far as asked", () => {
    const text = bytes(uuencode("data.bin", data));
    const head = decodeUu(text, uuBlockAt(text)!, 100);
    expect([...head.bytes]).toEqual([...data.subarray(0, 100)]);
    expect(head.ended).toBe(false);
    expect(head.consumed).toBeLessThan(200);
  });

  it("decodes begin-base64 blocks", () => {
    const text = bytes(`begin-base64 644 hi.txt\n${btoa("hello")}\n====\n`);
    const block = uuBlockAt(text)!;
    expect(block.base64).toBe(true);
    expect(new TextDecoder().decode(decodeUu(text, block, 100).bytes)).toBe("hello");
  });

  it("finds every block in a text body", () => {
    const body = `Hi,\n\n${uuencode("a.exe", bytes("MZ"))}\nand\n${uuencode("b.txt", bytes("b"))}\nBye`;
    expect(uuBlocksIn(body, 10).map((b) => uuBlockAt(bytes(b))?.name)).toEqual(["a.exe", "b.txt"]);
    expect(uuBlocksIn(body, 1)).toHaveLength(1);
  });

  it("does not take ordinary text for a block", () => {
    expect(uuBlockAt(bytes("begin the meeting at 9\n"))).toBeNull();
    expect(uuBlocksIn("Let us begin 644 times\n", 10)).toEqual([]);
  });
});
