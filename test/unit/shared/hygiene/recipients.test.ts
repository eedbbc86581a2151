import { describe, expect, it } from "vitest";
import { memoryDirectory } from "../../../../shared/directory/memory.ts";
import type { DirectoryReader } from "../../../../shared/directory/reader.ts";
import { recipientInfo } from "../../../../shared/hygiene/recipients.ts";
import { inboundMail } from "../../../helpers/inbound.ts";

const directory = await memoryDirectory({ domains: ["example.com"], recipients: ["alice@example.com", { address: "strict@example.com", sclOverride: 2 }] });

/** The directory, counting the lookups that reach it. */
function counting(inner: DirectoryReader): { reader: DirectoryReader; lookups: string[] } {
  const lookups: string[] = [];
  const reader: DirectoryReader = {
    root: inner.root,
    isAcceptedDomain: (d) => inner.isAcceptedDomain(d),
    lookupRecipient: (a) => {
      lookups.push(a);
      return inner.lookupRecipient(a);
    },
    policy: (n) => inner.policy(n),
    addressKey: (a) => inner.addressKey(a),
  };
  return { reader, lookups };
}

describe("recipientInfo", () => {
  it("answers as the directory does", async () => {
    const mail = inboundMail(null);
    expect(await recipientInfo(mail, directory, "strict@example.com")).toEqual(await directory.lookupRecipient("strict@example.com"));
    expect(await recipientInfo(mail, directory, "nobody@example.com")).toBeNull();
  });

  it("asks the directory once per recipient of a message", async () => {
    const { reader, lookups } = counting(directory);
    const mail = inboundMail(null);
    await recipientInfo(mail, reader, "alice@example.com");
    await recipientInfo(mail, reader, "alice@example.com");
    await recipientInfo(mail, reader, "strict@example.com");
    expect(lookups).toEqual(["alice@example.com", "strict@example.com"]);
    // Another message, or another directory version, asks again.
    await recipientInfo(inboundMail(null), reader, "alice@example.com");
    const { reader: other, lookups: otherLookups } = counting(directory);
    await recipientInfo(mail, other, "alice@example.com");
    expect(lookups).toHaveLength(3);
    expect(otherLookups).toEqual(["alice@example.com"]);
  });
});
