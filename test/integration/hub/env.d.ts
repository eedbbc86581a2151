// Test-only bindings of the hub's vitest project (see vitest.config.ts).
import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** A second edge, bound like EDGE (see vitest.config.ts). */
      EDGE_2: Fetcher;
    }
  }
}
