// Test-only bindings of the edge's vitest project (see vitest.config.ts).
import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      TEST_ADMIN_TOKEN: string;
      HUB_DB: D1Database;
      HUB_API: Fetcher;
      CORPUS: Fetcher;
    }
  }
}
