import type { PolicyName } from "../../../shared/policy.ts";

export interface PolicyRecord {
  name: PolicyName;
  body: unknown;
  updatedAt: string;
}

export async function listPolicyRecords(db: D1Database): Promise<PolicyRecord[]> {
  const { results } = await db
    .prepare("SELECT name, body, updated_at FROM policies ORDER BY name")
    .all<{ name: PolicyName; body: string; updated_at: string }>();
  return results.map((r) => ({ name: r.name, body: JSON.parse(r.body) as unknown, updatedAt: r.updated_at }));
}

export async function getPolicy(db: D1Database, name: PolicyName): Promise<PolicyRecord | null> {
  const row = await db
    .prepare("SELECT name, body, updated_at FROM policies WHERE name = ?")
    .bind(name)
    .first<{ name: PolicyName; body: string; updated_at: string }>();
  return row === null ? null : { name: row.name, body: JSON.parse(row.body) as unknown, updatedAt: row.updated_at };
}

/** Stores a validated policy; returns whether it changed (writing the same document again is not a change). */
export async function putPolicy(db: D1Database, name: PolicyName, body: unknown): Promise<{ created: boolean; changed: boolean }> {
  const json = JSON.stringify(body);
  const existing = await db.prepare("SELECT body FROM policies WHERE name = ?").bind(name).first<{ body: string }>();
  if (existing?.body === json) return { created: false, changed: false };
  await db
    .prepare(
      "INSERT INTO policies (name, body) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    )
    .bind(name, json)
    .run();
  return { created: existing === null, changed: true };
}

export async function deletePolicy(db: D1Database, name: PolicyName): Promise<boolean> {
  return (await db.prepare("DELETE FROM policies WHERE name = ?").bind(name).run()).meta.changes > 0;
}
