/**
 * Every worker × environment bundles (`wrangler deploy --dry-run --outdir`), and each bundle stays
 * well inside the Workers script-size limits: 3 MB gzip on Free, 10 MB gzip on Paid.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOYMENTS, EDGE_CONFIG, ENVIRONMENTS, HUB_CONFIG } from "../../scripts/deploy.ts";

const root = path.resolve(import.meta.dirname, "../..");
const wrangler = path.join(root, "node_modules", ".bin", "wrangler");

/** Workers script-size limits (after compression). */
const FREE_LIMIT_GZIP = 3 * 1024 * 1024;
const PAID_LIMIT_GZIP = 10 * 1024 * 1024;
/** "Well inside": a bundle may use at most half the Free plan's limit. */
const BUDGET_GZIP = FREE_LIMIT_GZIP / 2;
/** Dry-runs at a time (each is an esbuild process). */
const PARALLEL = 2;

const WORKERS = { edge: EDGE_CONFIG, hub: HUB_CONFIG } as const;
/** Every section of each config: "" is the top level, then every [env.*] section `npm run deploy` deploys. */
const SECTIONS: Record<keyof typeof WORKERS, string[]> = {
  edge: ["", ...ENVIRONMENTS.flatMap((env) => DEPLOYMENTS[env].edges)],
  hub: ["", ...ENVIRONMENTS.flatMap((env) => DEPLOYMENTS[env].hubs)],
};

interface Bundle {
  worker: keyof typeof WORKERS;
  env: string;
  /** What wrangler printed (the bindings table names each environment's resources). */
  output: string;
  /** Uncompressed and gzip bytes of the uploaded modules (source maps excluded). */
  bytes: number;
  gzip: number;
}

const targets = (Object.keys(WORKERS) as (keyof typeof WORKERS)[]).flatMap((worker) => SECTIONS[worker].map((env) => ({ worker, env })));
const bundles = new Map<string, Bundle>();
let outRoot = "";

const label = (worker: string, env: string) => `${worker}${env === "" ? "" : `:${env}`}`;
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MiB`;

async function bundle(worker: keyof typeof WORKERS, env: string): Promise<Bundle> {
  const outdir = path.join(outRoot, `${worker}-${env || "top"}`);
  const { stdout, stderr } = await promisify(execFile)(wrangler, ["deploy", "--dry-run", "--outdir", outdir, "-c", WORKERS[worker], `--env=${env}`], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    maxBuffer: 16 * 1024 * 1024,
  });
  let bytes = 0;
  let gzip = 0;
  for (const file of await readdir(outdir, { recursive: true, withFileTypes: true })) {
    if (!file.isFile() || file.name.endsWith(".map") || file.name === "README.md") continue;
    const content = await readFile(path.join(file.parentPath, file.name));
    bytes += content.length;
    gzip += gzipSync(content, { level: 9 }).length;
  }
  return { worker, env, output: stdout + stderr, bytes, gzip };
}

beforeAll(async () => {
  outRoot = await mkdtemp(path.join(tmpdir(), "portcullis-bundle-"));
  const queue = [...targets];
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        bundles.set(label(next.worker, next.env), await bundle(next.worker, next.env));
      }
    }),
  );
  for (const { worker, env } of targets) {
    const b = bundles.get(label(worker, env))!;
    console.log(
      `bundle ${label(b.worker, b.env).padEnd(24)} ${mb(b.bytes).padStart(10)} raw, ${mb(b.gzip).padStart(10)} gzip` +
        ` (${((b.gzip / FREE_LIMIT_GZIP) * 100).toFixed(0)}% of Free 3 MB, ${((b.gzip / PAID_LIMIT_GZIP) * 100).toFixed(0)}% of Paid 10 MB)`,
    );
  }
}, 180_000);

afterAll(async () => {
  if (outRoot !== "") await rm(outRoot, { recursive: true, force: true });
});

describe("wrangler deploy --dry-run", () => {
  for (const { worker, env } of targets) {
    it(`${label(worker, env)} bundles, well inside the script-size limits`, () => {
      const b = bundles.get(label(worker, env));
      expect(b, `${label(worker, env)} did not bundle`).toBeDefined();
      expect(b!.output).toMatch(/--dry-run: exiting now/);
      expect(b!.bytes).toBeGreaterThan(0);
      expect(b!.gzip, `${label(worker, env)}: ${mb(b!.gzip)} gzip`).toBeLessThan(BUDGET_GZIP);
      expect(b!.gzip).toBeLessThan(PAID_LIMIT_GZIP);
    });
  }

  it("each deployment binds its own resources and the Workers of the same environment", () => {
    const output = (worker: keyof typeof WORKERS, env: string) => bundles.get(label(worker, env))!.output;
    for (const env of ENVIRONMENTS) {
      const edge = output("edge", env);
      expect(edge).toContain(`portcullis-hub-${env}#HubIngest`);
      expect(edge).toContain(`portcullis-hub-${env}-standby#HubIngest`);
      expect(edge).toContain(`portcullis-spool-${env}`);
      expect(edge).toContain(`portcullis-tracking-${env}`);
      expect(edge).toContain(`portcullis-edge-directory-${env}`);
      for (const hub of [output("hub", env), output("hub", `${env}-standby`)]) {
        expect(hub).toContain(`portcullis-edge-${env}#EdgeDirectory`);
        expect(hub).toContain(`portcullis-backup-${env}`);
        expect(hub).toContain(`portcullis-hub-${env}#HubIngest`);
      }
      expect(output("hub", env)).toContain(`(portcullis-mailbox-${env})`);
      expect(output("hub", `${env}-standby`)).toContain(`portcullis-mailbox-${env}-standby`);
      expect(output("hub", `${env}-standby`)).toContain(`env.HUB_ROLE ("standby")`);
    }
    const us = output("edge", "production-us");
    expect(us).toContain(`env.EDGE_ID ("edge-us")`);
    expect(us).toContain("portcullis-edge-directory-production-us");
    expect(us).toContain("portcullis-spool-production-us");
    expect(us).toContain("(portcullis-tracking-production)");
    expect(output("edge", "production")).toContain(`env.EDGE_ID ("edge-eu")`);
    for (const hub of ["production", "production-standby"]) expect(output("hub", hub)).toContain("portcullis-edge-production-us#EdgeDirectory");
    expect(output("edge", "")).toContain("portcullis-hub#HubIngest");
    expect(output("hub", "")).toContain("portcullis-edge#EdgeDirectory");
  });
});
