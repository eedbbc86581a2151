import { describe, expect, it } from "vitest";
import { tagsFor, withTags } from "../../../shared/tags.ts";

describe("verdict tags", () => {
  it.each([
    ["accept", 2, false, "clean"],
    ["accept", 4, true, "spam"],
    ["accept", -1, false, "trusted"],
    ["quarantine", 6, false, "quarantined"],
  ] as const)("%s at SCL %i (tagged %s) is %s", (action, scl, spam, status) => {
    expect(tagsFor(action, scl, spam)).toEqual({ "X-Portcullis-SCL": String(scl), "X-Portcullis-Status": status });
  });

  it("prepends the headers and never lets a line break through", () => {
    const raw = new TextEncoder().encode("Subject: x\r\n\r\nbody");
    expect(new TextDecoder().decode(withTags(raw, { "X-Portcullis-SCL": "3" }))).toBe("X-Portcullis-SCL: 3\r\nSubject: x\r\n\r\nbody");
    const injected = withTags(raw, { "X-Portcullis-SCL": "3\r\nBcc: victim@example.com" } as never);
    expect(new TextDecoder().decode(injected)).toBe("Subject: x\r\n\r\nbody");
  });
});
