import type { RecipientInfo } from "../directory/entry.ts";
import type { DirectoryReader } from "../directory/reader.ts";
import type { InboundMail } from "./types.ts";

/**
 * Where a message keeps the lookups made for it, with the directory they were made in: a property
 * of the message (under a symbol of this module) rather than an entry in a WeakMap keyed by it. A
 * WeakMap entry per message is an ephemeron that every garbage collection must trace, and these
 * lookups live exactly as long as their message anyway.
 */
const LOOKUPS = Symbol("recipient lookups");
type WithLookups = InboundMail & { [LOOKUPS]?: { directory: DirectoryReader; found: Map<string, Promise<RecipientInfo | null>> } };

/**
 * The directory's entry for a recipient of a message, looked up once per message: the recipient
 * filter needs it to accept the recipient and the content filter for the recipient's SCL
 * override, and each lookup hashes the address and searches a shard.
 *
 * @example
 * const info = await recipientInfo(mail, directory, "alice@example.com"); // { rejectInternet: false, sclOverride: null } or null
 */
export function recipientInfo(mail: InboundMail, directory: DirectoryReader, address: string): Promise<RecipientInfo | null> {
  const holder: WithLookups = mail;
  let entry = holder[LOOKUPS];
  if (entry === undefined || entry.directory !== directory) {
    entry = { directory, found: new Map() };
    holder[LOOKUPS] = entry;
  }
  let info = entry.found.get(address);
  if (info === undefined) {
    info = directory.lookupRecipient(address);
    entry.found.set(address, info);
  }
  return info;
}
