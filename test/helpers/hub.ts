import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

/** Applies the hub's migrations to the auxiliary hub's D1 (shared with the edge project as HUB_DB). */
export async function migrateHub(): Promise<void> {
  await applyD1Migrations(env.HUB_DB, env.TEST_MIGRATIONS);
}

/** Calls the auxiliary hub's admin API with the test token. */
export async function hubApi(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${env.TEST_ADMIN_TOKEN}`);
  return env.HUB_API.fetch(`http://hub${path}`, { ...init, headers });
}

export interface ListedMessage {
  id: number;
  deliveryId: string;
  from: string;
  to: string[];
  subject: string | null;
  size: number;
  sha256: string;
  action: string;
  tags: Record<string, string>;
}

export async function listHubMessages(): Promise<ListedMessage[]> {
  const res = await hubApi("/api/v1/messages?limit=500");
  if (!res.ok) throw new Error(`hub list failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { items: ListedMessage[] }).items;
}
