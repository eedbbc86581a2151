import { env } from "cloudflare:workers";
import { normaliseAddress } from "../../../shared/directory/address.ts";
import { DirectoryKey } from "../../../shared/directory/hash.ts";

/** Writes domains and recipients straight into the hub's D1, hashed as the admin API does. */
export async function seedDirectory(domains: string[], recipients: string[]): Promise<void> {
  const key = await DirectoryKey.import(env.DIRECTORY_KEY);
  const statements: D1PreparedStatement[] = domains.map((d) => env.DB.prepare("INSERT OR IGNORE INTO domains (name) VALUES (?)").bind(d));
  for (const r of recipients) {
    const address = normaliseAddress(r)!;
    const domain = address.split("@")[1]!;
    statements.push(env.DB.prepare("INSERT OR IGNORE INTO recipients (address, domain) VALUES (?, ?)").bind(address, domain));
    statements.push(
      env.DB.prepare("INSERT OR IGNORE INTO recipient_addresses (address, recipient, domain, hash) VALUES (?, ?, ?, ?)").bind(
        address,
        address,
        domain,
        await key.hashAddress(address),
      ),
    );
  }
  await env.DB.batch(statements);
}
