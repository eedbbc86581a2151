import { normaliseAddress, normaliseDomain, withoutSubaddress } from "../../../shared/directory/address.ts";
import { findRecipient, listRecipients, type RecipientRecord } from "../db/recipients.ts";
import { RECIPIENT_RESULTS } from "./limits.ts";

/**
 * The recipient search: an address finds the recipient it delivers to (primary, alias, or the
 * address without its +tag, as the edge matches it); `@domain` lists that domain's recipients;
 * anything else is a prefix of a primary address or an alias.
 */
export async function searchRecipients(db: D1Database, raw: string): Promise<RecipientRecord[]> {
  const q = raw.trim().toLowerCase();
  if (q === "") return [];
  if (q.startsWith("@")) {
    const domain = normaliseDomain(q.slice(1));
    return domain === null ? [] : listRecipients(db, RECIPIENT_RESULTS, null, domain);
  }
  const address = normaliseAddress(q);
  if (address !== null) {
    const exact = (await findRecipient(db, address)) ?? (withoutSubaddress(address) === null ? null : await findRecipient(db, withoutSubaddress(address)!));
    if (exact !== null) return [exact];
  }
  return byPrefix(db, q);
}

/**
 * Recipients with an address (primary or alias) starting with `prefix`: a range scan of the
 * address table's primary key, so it stays cheap with a million addresses.
 */
async function byPrefix(db: D1Database, prefix: string): Promise<RecipientRecord[]> {
  const { results } = await db
    .prepare("SELECT DISTINCT recipient FROM (SELECT recipient FROM recipient_addresses WHERE address >= ? AND address < ? ORDER BY address LIMIT ?)")
    .bind(prefix, `${prefix}\uffff`, RECIPIENT_RESULTS * 4)
    .all<{ recipient: string }>();
  const found = await Promise.all(results.slice(0, RECIPIENT_RESULTS).map((r) => findRecipient(db, r.recipient)));
  return found.filter((r): r is RecipientRecord => r !== null);
}
