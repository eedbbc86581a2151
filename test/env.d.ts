// Test-only bindings of the edge's vitest project (see vitest.config.ts).
declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    TEST_ADMIN_TOKEN: string;
    HUB_DB: D1Database;
    HUB_API: Fetcher;
    CORPUS: Fetcher;
  }
}
