import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const root = import.meta.dirname;
const migrations = await readD1Migrations(path.join(root, "workers/hub/migrations"));

/** Secrets the workers need, fixed for tests. */
const TEST_SECRETS = {
  ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
  DIRECTORY_KEY: "test-directory-key-0123456789abcdef",
  SYNC_SIGNING_KEY: "test-sync-signing-key-0123456789abcdef",
};

/** Where the shared mail corpora live (the folder beside the checkout, unless told otherwise). */
export const corporaDir = path.resolve(process.env.PORTCULLIS_CORPORA ?? path.join(root, "..", "shared", "corpora"));

/**
 * Serves files from the corpora to tests running inside workerd, which cannot read the disk:
 * GET /list/<dir> → JSON array of relative paths; GET /file/<path> → the bytes.
 */
async function corpusService(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const rel = decodeURIComponent(url.pathname.replace(/^\/(list|file)\//, ""));
  const target = path.resolve(corporaDir, rel);
  if (!target.startsWith(corporaDir + path.sep) && target !== corporaDir) return new Response("outside the corpora", { status: 403 });
  if (!existsSync(target)) return new Response(`not found: ${rel} (corpora at ${corporaDir})`, { status: 404 });
  if (url.pathname.startsWith("/list/")) {
    const entries = await readdir(target, { recursive: true, withFileTypes: true });
    const files = entries
      .filter((e) => e.isFile())
      .map((e) => path.relative(corporaDir, path.join(e.parentPath, e.name)))
      .sort();
    return Response.json(files);
  }
  return new Response(await readFile(target));
}

/**
 * A DNS-over-HTTPS server for the edge's tests: the worker's outbound fetches land here. It knows
 * the records in TEST_DNS and answers NXDOMAIN for everything else, at once — tests never depend on
 * the internet, and mail from unknown domains resolves like it would for a real edge.
 */
const TEST_DNS: Record<string, Record<string, string[]>> = {
  "_dmarc.reject.example": { TXT: ["v=DMARC1; p=reject"] },
  "reject.example": { TXT: ["v=spf1 ip4:192.0.2.0/24 -all"] },
};
const DNS_TYPES: Record<string, number> = { A: 1, CNAME: 5, MX: 15, TXT: 16, AAAA: 28, PTR: 12 };
async function dohService(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const name = (url.searchParams.get("name") ?? "").toLowerCase().replace(/\.$/, "");
  const type = url.searchParams.get("type") ?? "A";
  const records = TEST_DNS[name]?.[type];
  const Answer = (records ?? []).map((data) => ({ name, type: DNS_TYPES[type], TTL: 300, data: type === "TXT" ? `"${data}"` : data }));
  return Response.json({ Status: TEST_DNS[name] === undefined ? 3 : 0, Answer }, { headers: { "content-type": "application/dns-json" } });
}

/** The hub as an auxiliary worker of the edge's tests (built by test/global-setup.ts). */
const hubAuxiliary = {
  name: "portcullis-hub",
  modules: true,
  scriptPath: path.join(root, "dist/test/hub/index.js"),
  compatibilityDate: "2026-11-01",
  d1Databases: { DB: "hub-db" },
  // BACKUP: the directory exports, shared with the standby hub below.
  r2Buckets: { MAILBOX: "hub-mailbox", BACKUP: "hub-backup" },
  durableObjects: { SYNC_SCHEDULER: { className: "SyncScheduler", useSQLite: true } },
  // Ingest queues onward steps (webhook and forward routes); no consumer here: edge tests route to the mailbox only.
  queueProducers: { ONWARD: { queueName: "portcullis-onward" } },
  // Message tracking: the edge under test sends its events to this queue and the hub stores them in its D1 (HUB_DB).
  queueConsumers: { "portcullis-tracking": { maxBatchSize: 100, maxBatchTimeout: 1, maxRetries: 2 } },
  bindings: { ...TEST_SECRETS, HUB_ID: "hub-local", HUB_ROLE: "primary" },
  // An edge this hub and the standby below both keep in sync (the standby tests read it as STANDBY_EDGE).
  serviceBindings: { EDGE: { name: "standby-test-edge", entrypoint: "EdgeDirectory" } },
};

/**
 * The standby hub (the edge's HUB_STANDBY): the hub's code again with its own D1 (HUB_STANDBY_DB) and
 * mailbox, the primary's BACKUP bucket, and PRIMARY_HUB through chaos-hub-a, so a test takes the
 * primary down for the standby exactly as for the edge. EDGE: the same edge as the primary's.
 */
const standbyHubAuxiliary = {
  ...hubAuxiliary,
  name: "portcullis-hub-standby",
  d1Databases: { DB: "hub-standby-db" },
  r2Buckets: { MAILBOX: "hub-standby-mailbox", BACKUP: "hub-backup" },
  queueProducers: { ONWARD: { queueName: "portcullis-onward-standby" } },
  queueConsumers: {},
  serviceBindings: { PRIMARY_HUB: { name: "chaos-hub-a", entrypoint: "ChaosIngest" }, EDGE: { name: "standby-test-edge", entrypoint: "EdgeDirectory" } },
  bindings: { ...TEST_SECRETS, HUB_ID: "hub-standby", HUB_ROLE: "standby" },
};

/**
 * Two upstream "hub deployments" for the edge's delivery tests: fault-injecting fronts
 * (test/fixtures/chaos-hub.js) over the hub, sharing its database as hub deployments do.
 */
const chaosHub = (name: string) => ({
  name,
  modules: true,
  scriptPath: path.join(root, "test/fixtures/chaos-hub.js"),
  compatibilityDate: "2026-11-01",
  serviceBindings: { HUB: { name: "portcullis-hub", entrypoint: "HubIngest" } },
});

/** An edge as an auxiliary worker of the hub's tests; two of them, each with its own KV and lease object. */
const edgeAuxiliary = (name: string, edgeId: string) => ({
  name,
  modules: true,
  scriptPath: path.join(root, "dist/test/edge/index.js"),
  compatibilityDate: "2026-11-01",
  kvNamespaces: { DIRECTORY: `${name}-directory` },
  durableObjects: {
    DIRECTORY_LEASE: { className: "DirectoryLease", useSQLite: true },
    HUB_HEALTH: { className: "HubHealthObject", useSQLite: true },
    SPOOL_INDEX: { className: "SpoolIndex", useSQLite: true },
  },
  r2Buckets: { SPOOL: `${name}-spool` },
  queueProducers: { SPOOL_QUEUE: { queueName: `${name}-spool` } },
  bindings: { EDGE_ID: edgeId, DIRECTORY_KEY: TEST_SECRETS.DIRECTORY_KEY, SYNC_SIGNING_KEY: TEST_SECRETS.SYNC_SIGNING_KEY },
});

export default defineConfig({
  test: {
    globalSetup: ["./test/global-setup.ts"],
    // Workers log one JSON line per decision; show it only for failing tests.
    silent: "passed-only",
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                DIRECTORY_KEY: TEST_SECRETS.DIRECTORY_KEY,
                SYNC_SIGNING_KEY: TEST_SECRETS.SYNC_SIGNING_KEY,
                // Answered by dohService through the outbound service below.
                DNS_OVER_HTTPS: "https://dns.test/dns-query",
                TEST_ADMIN_TOKEN: TEST_SECRETS.ADMIN_TOKEN,
                TEST_MIGRATIONS: migrations,
                // The fault-injection suite's size (test/chaos): small in `npm test`, 2,000 in `npm run test:chaos`.
                CHAOS_MESSAGES: process.env.CHAOS_MESSAGES ?? "200",
                CHAOS_SEED: process.env.CHAOS_SEED ?? "20261121",
              },
              // Test-only views of the hub: its database (to apply migrations) and its HTTP API.
              d1Databases: { HUB_DB: "hub-db", HUB_STANDBY_DB: "hub-standby-db" },
              serviceBindings: {
                HUB_API: "portcullis-hub",
                HUB_STANDBY_API: "portcullis-hub-standby",
                STANDBY_EDGE: { name: "standby-test-edge", entrypoint: "EdgeDirectory" },
                CORPUS: corpusService,
                // Delivery tests: hubs named in a `hubs` policy, and the switches of their fault injection.
                HUB_A: { name: "chaos-hub-a", entrypoint: "ChaosIngest" },
                HUB_B: { name: "chaos-hub-b", entrypoint: "ChaosIngest" },
                CHAOS_A: "chaos-hub-a",
                CHAOS_B: "chaos-hub-b",
              },
              outboundService: dohService,
              workers: [hubAuxiliary, standbyHubAuxiliary, edgeAuxiliary("standby-test-edge", "edge-test"), chaosHub("chaos-hub-a"), chaosHub("chaos-hub-b")],
            },
          }),
        ],
        test: {
          name: "edge",
          include: ["test/unit/**/*.test.ts", "test/integration/edge/**/*.test.ts", "test/chaos/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./workers/hub/wrangler.toml" },
            miniflare: {
              // DNS checks ask the fake DNS-over-HTTPS server in test/integration/hub/dns-fixtures.ts.
              bindings: { ...TEST_SECRETS, TEST_MIGRATIONS: migrations, DNS_OVER_HTTPS: "https://dns.test/dns-query" },
              // Forward routes: the local send_email binding refuses every other destination, so a
              // test sees the binding itself (not a stand-in) act on the route's address.
              email: { send_email: [{ name: "MAILER", allowed_destination_addresses: ["archive@elsewhere.example"] }] },
              serviceBindings: { EDGE_2: { name: "portcullis-edge-2", entrypoint: "EdgeDirectory" } },
              // The hub's outbound fetches: a webhook receiver for the onward tests, and a third edge
              // for EdgeSync over signed HTTPS (see the module).
              outboundService: async (request: Request, mf: unknown) => (await import("./test/integration/hub/outbound.ts")).hubOutbound(request, mf),
              workers: [
                edgeAuxiliary("portcullis-edge", "edge-test"),
                edgeAuxiliary("portcullis-edge-2", "edge-test-2"),
                edgeAuxiliary("portcullis-edge-3", "edge-test-3"),
              ],
            },
          }),
        ],
        test: {
          name: "hub",
          include: ["test/integration/hub/**/*.test.ts"],
          setupFiles: ["./test/integration/hub/apply-migrations.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "node",
          environment: "node",
          include: ["test/node/**/*.test.ts", "test/e2e/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
