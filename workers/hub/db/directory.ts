import type { DirectoryData } from "../../../shared/directory/snapshot.ts";

/** Rows read per query when loading the directory, well inside D1's per-query limits. */
const PAGE_ROWS = 10_000;

/** Reads every accepted domain and recipient, for building a snapshot. */
export async function loadDirectory(db: D1Database): Promise<DirectoryData> {
  const domains = (await db.prepare("SELECT name FROM domains ORDER BY name").all<{ name: string }>()).results.map((r) => r.name);
  const recipients: string[] = [];
  let after = "";
  for (;;) {
    const { results } = await db
      .prepare("SELECT address FROM recipients WHERE address > ? ORDER BY address LIMIT ?")
      .bind(after, PAGE_ROWS)
      .all<{ address: string }>();
    for (const r of results) recipients.push(r.address);
    if (results.length < PAGE_ROWS) break;
    after = results[results.length - 1]!.address;
  }
  return { domains, recipients };
}
