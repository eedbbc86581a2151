/**
 * `npm start`: the whole Portcullis stack on this machine.
 *
 *   1. local secrets (workers/hub/.dev.vars, .dev.vars), generated on first start
 *   2. the hub's D1 migrations
 *   3. hub and edge under `wrangler dev`, state persisted under --state
 *   4. through the hub's admin API: the local edge registered, the demo directory seeded
 *      (example.com: alice@, bob@), and an EdgeSync round run
 *   5. URLs, the admin token and a ready-to-paste test command
 *
 * Options (or environment): --edge-port (PORTCULLIS_EDGE_PORT, 8787), --hub-port
 * (PORTCULLIS_HUB_PORT, 8788), --state (PORTCULLIS_STATE, .wrangler/state), --no-seed.
 * Ctrl-C stops everything; a second start reuses the state.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { ensureLocalSecrets } from "./dev-vars.ts";
import { freePort, portFree } from "./ports.ts";

const root = path.resolve(import.meta.dirname, "..");
const bin = path.join(root, "node_modules", ".bin");
const wrangler = path.join(bin, "wrangler");

/** How long the workers may take to come up before start-up is declared failed. */
const STARTUP_TIMEOUT_MS = 120_000;
/** How long children get to exit after Ctrl-C before they are killed. */
const SHUTDOWN_GRACE_MS = 5_000;
/** The id the local edge is registered under at the hub (the edge's own EDGE_ID). */
const LOCAL_EDGE_ID = "edge-local";
/** The demo directory. */
const DEMO_DOMAIN = "example.com";
const DEMO_RECIPIENTS = ["alice@example.com", "bob@example.com"];

const { values: args } = parseArgs({
  options: {
    "edge-port": { type: "string", default: process.env.PORTCULLIS_EDGE_PORT ?? "8787" },
    "hub-port": { type: "string", default: process.env.PORTCULLIS_HUB_PORT ?? "8788" },
    state: { type: "string", default: process.env.PORTCULLIS_STATE ?? path.join(root, ".wrangler", "state") },
    "no-seed": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

if (args.help) {
  console.log("Usage: npm start -- [--edge-port 8787] [--hub-port 8788] [--state DIR] [--no-seed]");
  process.exit(0);
}

const edgePort = port(args["edge-port"], "--edge-port");
const hubPort = port(args["hub-port"], "--hub-port");
const state = path.resolve(args.state);
const edgeUrl = `http://localhost:${edgePort}`;
const hubUrl = `http://localhost:${hubPort}`;

/** Tools run on the project's own Node (node_modules/.bin first), whatever the system Node is. */
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
  // Each state directory gets its own dev registry, so two stacks on one machine never bind to each other.
  WRANGLER_REGISTRY_PATH: path.join(state, "dev-registry"),
  WRANGLER_SEND_METRICS: "false",
  FORCE_COLOR: "0",
};

const children: ChildProcess[] = [];
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

/** Starts `wrangler dev` for one worker; its output is kept until start-up succeeds, then streamed with a prefix. */
async function startWorker(name: string, config: string, listenPort: number, log: string[]): Promise<ChildProcess> {
  const inspector = await freePort();
  const child = spawn(
    wrangler,
    [
      "dev",
      "-c",
      config,
      "--port",
      String(listenPort),
      "--inspector-port",
      String(inspector),
      "--persist-to",
      state,
      "--show-interactive-dev-session=false",
      "--log-level",
      "log",
    ],
    // Own process group: stopping the stack also stops workerd, which wrangler starts as a child.
    { cwd: root, env: childEnv, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  children.push(child);
  const forward = (chunk: Buffer): void => {
    for (const line of chunk.toString("utf8").split(/\r?\n/)) {
      if (line.trim() === "") continue;
      if (ready) console.log(`[${name}] ${line}`);
      else log.push(`[${name}] ${line}`);
    }
  };
  child.stdout?.on("data", forward);
  child.stderr?.on("data", forward);
  child.on("exit", (code, signal) => {
    if (stopping) return;
    console.error(`\nportcullis: the ${name} worker exited (${signal ?? `code ${code}`}).`);
    if (!ready) console.error(log.join("\n"));
    void stop(1);
  });
  return child;
}

async function waitFor(url: string, what: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) fail(`${what} did not answer at ${url} within ${STARTUP_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Calls the hub's admin API; throws with the API's own error message. */
async function admin<T>(token: string, method: string, apiPath: string, body?: unknown): Promise<T> {
  const res = await fetch(`${hubUrl}/api/v1${apiPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /api/v1${apiPath}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return (text === "" ? null : JSON.parse(text)) as T;
}

interface SyncReport {
  root: string;
  snapshot: { recipients: number };
  edges: { id: string; status: string; version?: number; error?: string }[];
}

/** Runs EdgeSync rounds until the local edge holds the hub's current root (its binding may take a moment to connect). */
async function syncLocalEdge(token: string, deadline: number): Promise<{ root: string; version: number; recipients: number }> {
  let last: string;
  for (;;) {
    try {
      const report = await admin<SyncReport>(token, "POST", "/sync");
      const edge = report.edges.find((e) => e.id === LOCAL_EDGE_ID);
      if (edge !== undefined && (edge.status === "committed" || edge.status === "unchanged"))
        return { root: report.root, version: edge.version ?? 0, recipients: report.snapshot.recipients };
      last = edge === undefined ? "the local edge is not registered" : `${edge.status}: ${edge.error ?? ""}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) fail(`syncing the directory to the edge failed: ${last}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const exits = children.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once("exit", () => r()))));
  for (const c of children) signalGroup(c, "SIGTERM");
  const timer = setTimeout(() => children.forEach((c) => signalGroup(c, "SIGKILL")), SHUTDOWN_GRACE_MS);
  await Promise.all(exits);
  clearTimeout(timer);
  process.exit(code);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

let ready = false;

async function main(): Promise<void> {
  process.on("SIGINT", () => {
    console.log("\nStopping Portcullis…");
    void stop(0);
  });
  process.on("SIGTERM", () => void stop(0));

  for (const [p, flag] of [
    [edgePort, "--edge-port"],
    [hubPort, "--hub-port"],
  ] as const) {
    if (!(await portFree(p))) fail(`port ${p} is already in use (is another \`npm start\` running?). Choose another with ${flag}.`);
  }
  mkdirSync(state, { recursive: true });

  const secrets = ensureLocalSecrets(path.join(root, "workers/hub/.dev.vars"), path.join(root, ".dev.vars"));
  if (secrets.created.length > 0) step(`generated local secrets: ${secrets.created.join(", ")}`);

  step("applying the hub's D1 migrations");
  run(["d1", "migrations", "apply", "DB", "--local", "-c", "workers/hub/wrangler.toml", "--persist-to", state], "applying migrations");

  step(`starting the hub on ${hubUrl} and the edge on ${edgeUrl}`);
  const log: string[] = [];
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  await startWorker("hub", "workers/hub/wrangler.toml", hubPort, log);
  await startWorker("edge", "wrangler.toml", edgePort, log);
  await waitFor(`${hubUrl}/api/v1/health`, "the hub", deadline);
  await waitFor(`${edgeUrl}/healthz`, "the edge", deadline);

  step(`registering the local edge at the hub (${LOCAL_EDGE_ID}, service binding EDGE)`);
  await admin(secrets.adminToken, "PUT", `/edges/${LOCAL_EDGE_ID}`, { transport: "binding", binding: "EDGE" });
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
  step("syncing the directory from the hub to the edge");
  const published = await syncLocalEdge(secrets.adminToken, deadline);
  ready = true;

  const token = secrets.adminToken;
  console.log(`
Portcullis is running.

  Edge (Email Routing target)  ${edgeUrl}
  Hub and admin API            ${hubUrl}/api/v1
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
