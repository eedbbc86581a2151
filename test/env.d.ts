// Test-only bindings of the edge's vitest project (see vitest.config.ts).
import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      TEST_ADMIN_TOKEN: string;
      HUB_DB: D1Database;
      HUB_API: Fetcher;
      /** The standby hub's database and admin API (see vitest.config.ts). */
      HUB_STANDBY_DB: D1Database;
      HUB_STANDBY_API: Fetcher;
      /** The edge the standby hub syncs in the edge project (its EDGE binding). */
      STANDBY_EDGE: Fetcher;
      CORPUS: Fetcher;
      /** Hubs for delivery tests (fault-injecting fronts over the hub) and their switches. */
      HUB_A: Fetcher;
      HUB_B: Fetcher;
      CHAOS_A: Fetcher;
      CHAOS_B: Fetcher;
      CHAOS_MESSAGES: string;
      CHAOS_SEED: string;
    }
  }
}
