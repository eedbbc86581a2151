import type { RecipientInfo } from "../directory/entry.ts";
import type { DirectoryReader } from "../directory/reader.ts";
import type { InboundMail } from "./types.ts";

/** Lookups made for each message, with the directory they were made in. */
const lookups = new WeakMap<InboundMail, { directory: DirectoryReader; found: Map<string, Promise<RecipientInfo | null>> }>();

/**
 * The directory's entry for a recipient of a message, looked up once per message: the recipient
 * filter needs it to accept the recipient and the content filter for the recipient's SCL
 * override, and each lookup hashes the address and searches a shard.
 *
 * @example
 * const info = await recipientInfo(mail, directory, "alice@example.com"); // { rejectInternet: false, sclOverride: null } or null
 */
export function recipientInfo(mail: InboundMail, directory: DirectoryReader, address: string): Promise<RecipientInfo | null> {
  let entry = lookups.get(mail);
  if (entry === undefined || entry.directory !== directory) {
    entry = { directory, found: new Map() };
    lookups.set(mail, entry);
  }
  let info = entry.found.get(address);
  if (info === undefined) {
    info = directory.lookupRecipient(address);
    entry.found.set(address, info);
  }
  return info;
}
