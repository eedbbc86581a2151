import { describe, expect, it } from "vitest";
import { isEicar } from "../../../../../shared/hygiene/attachments/eicar.ts";
import { bytes, eicar } from "./fixtures.ts";

const check = (text: string) => isEicar(bytes(text).subarray(0, 128), bytes(text).length);

describe("EICAR test file", () => {
  it.each([
    ["the test string alone", eicar()],
    ["followed by CRLF", `${eicar()}\r\n`],
    ["followed by spaces, tabs and Ctrl-Z up to 128 bytes", `${eicar()}${" \t\x1a".repeat(20)}`],
  ])("is recognised: %s", async (_, text) => {
    expect(await check(text)).toBe(true);
  });

  it.each([
    ["preceded by anything", ` ${eicar()}`],
    ["followed by other text", `${eicar()} and more`],
    ["longer than 128 bytes", `${eicar()}${" ".repeat(61)}`],
    ["with one character changed", eicar().replace("TEST", "TEXT")],
    ["cut short", eicar().slice(0, 60)],
  ])("is not recognised %s", async (_, text) => {
    expect(await check(text)).toBe(false);
  });

  it("needs the whole file in the head it is given", async () => {
    expect(await isEicar(bytes(eicar()).subarray(0, 40), 68)).toBe(false);
  });
});
