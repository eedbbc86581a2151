import { execFileSync } from "node:child_process";
import path from "node:path";

/**
 * Auxiliary workers in the vitest pool must be prebuilt JavaScript: bundle the hub (for the edge's
 * tests) and the edge (for the hub's tests) exactly as `wrangler deploy` would.
 */
export default function setup(): void {
  const root = path.resolve(import.meta.dirname, "..");
  const wrangler = path.join(root, "node_modules", ".bin", "wrangler");
  for (const [config, outdir] of [
    ["workers/hub/wrangler.toml", "dist/test/hub"],
    ["wrangler.toml", "dist/test/edge"],
  ] as const) {
    execFileSync(wrangler, ["deploy", "--dry-run", "--outdir", path.join(root, outdir), "-c", path.join(root, config)], {
      cwd: root,
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
  }
}
