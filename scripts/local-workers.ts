/**
 * The workers of a local stack (scripts/start.ts): the hub, the edge, extra edges and a standby hub.
 *
 * Extra edges and the standby hub are further deployments of the same code. Under one state folder
 * they must not share anything a real deployment would own, so each gets a wrangler config derived
 * from the checked-in one (written to <state>/configs/): another worker name (its own Durable
 * Objects and dev-registry entry), its own KV namespace, R2 bucket, queue, or D1 database, its own
 * id. What they share on purpose stays: the edges' HUB binding and TRACKING queue, and the hubs'
 * R2 BACKUP bucket.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { experimental_readRawConfig } from "wrangler";

const root = path.resolve(import.meta.dirname, "..");

/** The most edges one local stack runs: each is a `wrangler dev` process (~150 MB, ~10 s to start). */
export const MAX_LOCAL_EDGES = 4;

/** The id the first local edge reports and is registered under at the hub (the edge's own EDGE_ID). */
export const LOCAL_EDGE_ID = "edge-local";

export interface LocalWorker {
  /** Short name used in logs, processes.json and launch.ts: hub, edge, edge-2 …, hub-standby. */
  key: string;
  /** The worker's name in the dev registry. */
  worker: string;
  /** wrangler config, relative to the checkout or absolute. */
  config: string;
  /** .env files with its secrets, when its config is not beside its .dev.vars. */
  envFiles: string[];
  port: number;
  url: string;
  /** Answers 200 once the worker is up. */
  health: string;
}

type RawConfig = Record<string, unknown>;
type Binding = Record<string, unknown>;

/**
 * Writes a copy of a checked-in wrangler config as JSON under <state>/configs/, changed by `change`.
 * Paths become absolute (the copy lives elsewhere) and environments are dropped (a local copy is
 * the top level only).
 */
function deriveConfig(source: string, state: string, name: string, change: (raw: RawConfig) => void): string {
  const { rawConfig } = experimental_readRawConfig({ config: path.join(root, source) });
  const raw: RawConfig = structuredClone(rawConfig) as RawConfig;
  const dir = path.dirname(path.join(root, source));
  delete raw.env;
  raw.name = name;
  raw.main = path.resolve(dir, String(raw.main));
  for (const db of (raw.d1_databases ?? []) as Binding[]) if (typeof db.migrations_dir === "string") db.migrations_dir = path.resolve(dir, db.migrations_dir);
  change(raw);
  const out = path.join(state, "configs", `${name}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(raw, null, 2)}\n`);
  return out;
}

const list = (raw: RawConfig, key: string): Binding[] => (raw[key] ?? []) as Binding[];
const queues = (raw: RawConfig): { producers?: Binding[]; consumers?: Binding[] } => (raw.queues ?? {}) as { producers?: Binding[]; consumers?: Binding[] };

/** Renames a queue everywhere the config names it (producers and consumers). */
function renameQueue(raw: RawConfig, from: string, to: string): void {
  for (const p of queues(raw).producers ?? []) if (p.queue === from) p.queue = to;
  for (const c of queues(raw).consumers ?? []) if (c.queue === from) c.queue = to;
}

export function hubWorker(port: number): LocalWorker {
  const url = `http://localhost:${port}`;
  return { key: "hub", worker: "portcullis-hub", config: "workers/hub/wrangler.toml", envFiles: [], port, url, health: `${url}/api/v1/health` };
}

/** Edge number n (1-based): the first is the checked-in config; the others derived configs. */
export function edgeWorker(n: number, port: number, state: string): LocalWorker {
  const url = `http://localhost:${port}`;
  const health = `${url}/healthz`;
  if (n === 1) return { key: "edge", worker: "portcullis-edge", config: "wrangler.toml", envFiles: [], port, url, health };
  const suffix = `-${n}`;
  const worker = `portcullis-edge${suffix}`;
  const config = deriveConfig("wrangler.toml", state, worker, (raw) => {
    raw.vars = { ...(raw.vars as object), EDGE_ID: edgeId(n) };
    for (const kv of list(raw, "kv_namespaces")) kv.id = `${String(kv.id)}${suffix}`;
    for (const r2 of list(raw, "r2_buckets")) r2.bucket_name = `${String(r2.bucket_name)}${suffix}`;
    // The spool queue is this edge's own; TRACKING goes to the hub, shared by every edge.
    for (const p of queues(raw).producers ?? []) if (p.binding === "SPOOL_QUEUE") renameQueue(raw, String(p.queue), `${String(p.queue)}${suffix}`);
  });
  return { key: `edge${suffix}`, worker, config, envFiles: [path.join(root, ".dev.vars")], port, url, health };
}

/** The id edge n reports and is registered under: edge-local, edge-local-2, … */
export function edgeId(n: number): string {
  return n === 1 ? LOCAL_EDGE_ID : `${LOCAL_EDGE_ID}-${n}`;
}

/** The id and role of the standby hub. */
export const STANDBY_HUB_ID = "hub-standby";

/**
 * The standby hub: the hub's code as a second deployment with its own D1 database, mailbox bucket
 * and queues, sharing the primary's R2 BACKUP bucket (same state folder) to restore its exports.
 */
export function standbyHubWorker(port: number, state: string): LocalWorker {
  const url = `http://localhost:${port}`;
  const suffix = "-standby";
  const worker = `portcullis-hub${suffix}`;
  const config = deriveConfig("workers/hub/wrangler.toml", state, worker, (raw) => {
    raw.vars = { ...(raw.vars as object), HUB_ID: STANDBY_HUB_ID, HUB_ROLE: "standby" };
    for (const db of list(raw, "d1_databases")) {
      db.database_id = `${String(db.database_id)}${suffix}`;
      db.database_name = `${String(db.database_name)}${suffix}`;
    }
    for (const r2 of list(raw, "r2_buckets")) if (r2.binding !== "BACKUP") r2.bucket_name = `${String(r2.bucket_name)}${suffix}`;
    // A queue has one consumer: the standby's onward and tracking queues are its own.
    const names = new Set([...(queues(raw).producers ?? []), ...(queues(raw).consumers ?? [])].map((q) => String(q.queue)));
    for (const name of names) renameQueue(raw, name, `${name}${suffix}`);
  });
  // /healthz answers once its own database does.
  return { key: "hub-standby", worker, config, envFiles: [path.join(root, "workers/hub/.dev.vars")], port, url, health: `${url}/healthz` };
}
