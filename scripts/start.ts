/**
 * `npm start`: the whole Portcullis stack on this machine.
 *
 *   1. local secrets (workers/hub/.dev.vars, .dev.vars), generated on first start
 *   2. the hub's D1 migrations (and the standby hub's, with --standby)
 *   3. hub, edges (and standby hub) under `wrangler dev`, state persisted under --state
 *   4. through the hub's admin API: every edge registered, the demo directory seeded
 *      (example.com: alice@, bob@), and EdgeSync rounds run until every edge holds the hub's root
 *   5. URLs, the admin token and a ready-to-paste test command
 *
 * Options (or environment): --edge-port (PORTCULLIS_EDGE_PORT, 8787), --hub-port
 * (PORTCULLIS_HUB_PORT, 8788), --edges N (PORTCULLIS_EDGES, 1), --edge-ports P1,P2,…,
 * --standby, --standby-port (PORTCULLIS_STANDBY_PORT, 8790), --state (PORTCULLIS_STATE,
 * .wrangler/state), --no-seed. Ctrl-C stops everything; a second start reuses the state.
 *
 * Every worker process is listed in <state>/processes.json. Run with an IPC channel (scripts/launch.ts),
 * the stack also takes {op: "kill" | "restart", key} messages to stop or restart one worker.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { adminApi } from "./admin-api.ts";
import { ensureLocalSecrets } from "./dev-vars.ts";
import { edgeId, edgeWorker, hubWorker, LOCAL_EDGE_ID, type LocalWorker, MAX_LOCAL_EDGES, standbyHubWorker } from "./local-workers.ts";
import { portFree } from "./ports.ts";
import { WorkerProcesses } from "./worker-processes.ts";
import type { WorkerControl, WorkerControlReply } from "./launch.ts";

const root = path.resolve(import.meta.dirname, "..");
const bin = path.join(root, "node_modules", ".bin");
const wrangler = path.join(bin, "wrangler");

/** How long the workers may take to come up before start-up is declared failed. */
const STARTUP_TIMEOUT_MS = 120_000;
/** The demo directory. */
const DEMO_DOMAIN = "example.com";
const DEMO_RECIPIENTS = ["alice@example.com", "bob@example.com"];

const { values: args } = parseArgs({
  options: {
    "edge-port": { type: "string", default: process.env.PORTCULLIS_EDGE_PORT ?? "8787" },
    "hub-port": { type: "string", default: process.env.PORTCULLIS_HUB_PORT ?? "8788" },
    edges: { type: "string", default: process.env.PORTCULLIS_EDGES },
    "edge-ports": { type: "string" },
    standby: { type: "boolean", default: false },
    "standby-port": { type: "string", default: process.env.PORTCULLIS_STANDBY_PORT ?? "8790" },
    state: { type: "string", default: process.env.PORTCULLIS_STATE ?? path.join(root, ".wrangler", "state") },
    "no-seed": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

if (args.help) {
  console.log(
    "Usage: npm start -- [--edge-port 8787] [--hub-port 8788] [--edges N] [--edge-ports P1,P2,…] [--standby] [--standby-port 8790] [--state DIR] [--no-seed]",
  );
  process.exit(0);
}

const hubPort = port(args["hub-port"], "--hub-port");
const standbyPort = args.standby ? port(args["standby-port"], "--standby-port") : undefined;
const state = path.resolve(args.state);
const hubUrl = `http://localhost:${hubPort}`;

/** Tools run on the project's own Node (node_modules/.bin first), whatever the system Node is. */
const childEnvOverrides: Record<string, string> = {
  PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
  // Each state directory gets its own dev registry, so two stacks on one machine never bind to each other.
  WRANGLER_REGISTRY_PATH: path.join(state, "dev-registry"),
  WRANGLER_SEND_METRICS: "false",
  FORCE_COLOR: "0",
};
const childEnv: NodeJS.ProcessEnv = { ...process.env, ...childEnvOverrides };

/** Every worker process of the stack. */
const processes = new WorkerProcesses({
  root,
  wrangler,
  state,
  env: childEnvOverrides,
  onExit(worker, how, all) {
    console.error(`\nportcullis: the ${worker.key} worker exited (${how}).`);
    if (!processes.streaming) {
      console.error(processes.startupLog.join("\n"));
      void stop(1);
    } else if (all) {
      void stop(1);
    }
    // Otherwise the others keep running: a local stack is where a hub outage is rehearsed.
  },
});
let stopping = false;

function port(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) fail(`${flag} must be a port number, got "${value}"`);
  return n;
}

function fail(message: string): never {
  console.error(`\nportcullis: ${message}`);
  void stop(1);
  throw new Error(message);
}

function step(message: string): void {
  console.log(`• ${message}`);
}

function run(args: string[], what: string): string {
  try {
    return execFileSync(wrangler, args, { cwd: root, env: childEnv, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    fail(`${what} failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

/** The ports of the edges: --edge-ports, or --edge-port and then the next free ports the stack does not use. */
async function edgePorts(count: number, reserved: number[]): Promise<number[]> {
  if (args["edge-ports"] !== undefined) {
    const ports = args["edge-ports"].split(",").map((p) => port(p.trim(), "--edge-ports"));
    if (ports.length !== count) fail(`--edge-ports lists ${ports.length} ports for ${count} edge(s)`);
    return ports;
  }
  const ports = [port(args["edge-port"], "--edge-port")];
  for (let p = ports[0]! + 1; ports.length < count && p <= 65535; p++) {
    if (!reserved.includes(p) && (await portFree(p))) ports.push(p);
  }
  return ports;
}

function edgeCount(): number {
  const value = args.edges ?? (args["edge-ports"] === undefined ? "1" : String(args["edge-ports"].split(",").length));
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LOCAL_EDGES) fail(`--edges must be a whole number from 1 to ${MAX_LOCAL_EDGES}, got "${value}"`);
  return n;
}

async function waitFor(url: string, what: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    // Thrown, not fail(): a worker restarted on request that does not come back is that request's error.
    if (Date.now() > deadline) throw new Error(`${what} did not answer at ${url} within ${STARTUP_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Calls the hub's admin API; throws with the API's own error message. */
const admin = <T>(token: string, method: string, apiPath: string, body?: unknown): Promise<T> => adminApi<T>(hubUrl, token, method, apiPath, body);

interface SyncReport {
  root: string;
  snapshot: { recipients: number };
  edges: { id: string; status: string; version?: number; error?: string }[];
}

/** Runs EdgeSync rounds until every edge holds the hub's current root (a binding may take a moment to connect). */
async function syncEdges(token: string, ids: string[], deadline: number): Promise<{ root: string; version: number; recipients: number }> {
  let last: string;
  for (;;) {
    try {
      const report = await admin<SyncReport>(token, "POST", "/sync");
      const behind = ids.flatMap((id) => {
        const edge = report.edges.find((e) => e.id === id);
        if (edge === undefined) return [`${id} is not registered`];
        return edge.status === "committed" || edge.status === "unchanged" ? [] : [`${id} ${edge.status}: ${edge.error ?? ""}`];
      });
      if (behind.length === 0) {
        const first = report.edges.find((e) => e.id === LOCAL_EDGE_ID);
        return { root: report.root, version: first?.version ?? 0, recipients: report.snapshot.recipients };
      }
      last = behind.join("; ");
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) fail(`syncing the directory to the edges failed: ${last}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await processes.stopAll();
  process.exit(code);
}

/** Kill and restart requests from scripts/launch.ts over the IPC channel. */
function listenForControl(): void {
  process.on("message", (message: WorkerControl) => {
    const action =
      message.op === "kill"
        ? processes.kill(message.key)
        : processes.restart(message.key).then((w) => waitFor(w.health, `the ${w.key} worker`, Date.now() + STARTUP_TIMEOUT_MS));
    action.then(
      () => process.send?.({ id: message.id, ok: true } satisfies WorkerControlReply),
      (err: unknown) => process.send?.({ id: message.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies WorkerControlReply),
    );
  });
}

async function main(): Promise<void> {
  process.on("SIGINT", () => {
    console.log("\nStopping Portcullis…");
    void stop(0);
  });
  process.on("SIGTERM", () => void stop(0));
  process.on("disconnect", () => void stop(0));

  const count = edgeCount();
  const reserved = [hubPort, ...(standbyPort === undefined ? [] : [standbyPort])];
  const ports = await edgePorts(count, reserved);
  const flags: [number, string][] = [
    ...ports.map((p, i): [number, string] => [p, i === 0 && args["edge-ports"] === undefined ? "--edge-port" : "--edge-ports"]),
    [hubPort, "--hub-port"],
    ...(standbyPort === undefined ? [] : [[standbyPort, "--standby-port"] as [number, string]]),
  ];
  for (const [p, flag] of flags) {
    if (flags.filter(([q]) => q === p).length > 1) fail(`port ${p} is given to two workers. Choose another with ${flag}.`);
    if (!(await portFree(p))) fail(`port ${p} is already in use (is another \`npm start\` running?). Choose another with ${flag}.`);
  }
  mkdirSync(state, { recursive: true });

  const secrets = ensureLocalSecrets(path.join(root, "workers/hub/.dev.vars"), path.join(root, ".dev.vars"));
  if (secrets.created.length > 0) step(`generated local secrets: ${secrets.created.join(", ")}`);

  const edges = ports.map((p, i) => edgeWorker(i + 1, p, state));
  const standby = standbyPort === undefined ? undefined : standbyHubWorker(standbyPort, state);
  const workers = [hubWorker(hubPort), ...edges, ...(standby === undefined ? [] : [standby])];

  step("applying the hub's D1 migrations");
  run(["d1", "migrations", "apply", "DB", "--local", "-c", "workers/hub/wrangler.toml", "--persist-to", state], "applying migrations");
  if (standby !== undefined) {
    step("applying the standby hub's D1 migrations (its own database)");
    run(["d1", "migrations", "apply", "DB", "--local", "-c", standby.config, "--persist-to", state], "applying the standby's migrations");
  }

  step(`starting ${workers.map((w) => `the ${w.key} on ${w.url}`).join(", ")}`);
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  // One at a time: workerd processes sharing a state folder open the same SQLite files as they
  // start (the cache, the trace store, shared buckets and queues), and two opening one at the same
  // moment fail with SQLITE_BUSY. Once a worker answers, the next can start.
  if (process.send !== undefined) listenForControl();
  for (const worker of workers) {
    await processes.start(worker);
    await waitFor(worker.health, `the ${worker.key} worker`, deadline);
  }

  step(`registering the local edge at the hub (${LOCAL_EDGE_ID}, service binding EDGE)`);
  await admin(secrets.adminToken, "PUT", `/edges/${LOCAL_EDGE_ID}`, { transport: "binding", binding: "EDGE" });
  for (const [i, edge] of edges.entries()) {
    if (i === 0) continue;
    step(`registering ${edgeId(i + 1)} at the hub (signed HTTPS to ${edge.url})`);
    await admin(secrets.adminToken, "PUT", `/edges/${edgeId(i + 1)}`, { transport: "https", url: edge.url });
  }
  if (!args["no-seed"]) {
    step(`seeding the demo directory through the admin API (${DEMO_DOMAIN}: ${DEMO_RECIPIENTS.join(", ")})`);
    await admin(secrets.adminToken, "PUT", `/domains/${DEMO_DOMAIN}`);
    await admin(
      secrets.adminToken,
      "POST",
      "/recipients",
      DEMO_RECIPIENTS.map((address) => ({ address })),
    );
  }
  step(`syncing the directory from the hub to ${edges.length === 1 ? "the edge" : `the ${edges.length} edges`}`);
  const published = await syncEdges(
    secrets.adminToken,
    edges.map((_, i) => edgeId(i + 1)),
    deadline,
  );
  processes.streaming = true;
  printBanner(secrets.adminToken, edges, standby, published);
}

function printBanner(
  token: string,
  edges: LocalWorker[],
  standby: LocalWorker | undefined,
  published: { root: string; version: number; recipients: number },
): void {
  const edgeUrl = edges[0]!.url;
  const line = (label: string, value: string): string => `  ${label.padEnd(29)}${value}`;
  const more = [...edges.slice(1).map((e, i) => line(`Edge ${edgeId(i + 2)}`, e.url)), ...(standby === undefined ? [] : [line("Standby hub", standby.url)])];
  console.log(`
Portcullis is running.

  Edge (Email Routing target)  ${edgeUrl}
${more.map((l) => `${l}\n`).join("")}  Hub and admin API            ${hubUrl}/api/v1
  Admin token                  ${token}
                               (workers/hub/.dev.vars; send it as "Authorization: Bearer <token>")
  Directory                    version ${published.version} at ${LOCAL_EDGE_ID}, ${published.recipients} addresses, root ${published.root.slice(0, 16)}…
  Local state                  ${path.relative(root, state) || "."}

Send a test message (paste this):

  curl -sS -X POST '${edgeUrl}/cdn-cgi/local/email?from=sender@example.net&to=alice@example.com' --data-binary @test/fixtures/welcome.eml

or with the CLI:

  npx portcullis send test/fixtures/welcome.eml --from sender@example.net --to alice@example.com --edge ${edgeUrl}

Then see what the hub stored:

  curl -sS -H 'Authorization: Bearer ${token}' ${hubUrl}/api/v1/messages

Press Ctrl-C to stop.
`);
}

main().catch((err: unknown) => {
  if (!stopping) {
    console.error(`portcullis: ${err instanceof Error ? err.message : String(err)}`);
    void stop(1);
  }
});
