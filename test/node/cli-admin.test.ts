import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchStack, type LaunchedStack } from "../../scripts/launch.ts";
import { freePort } from "../../scripts/ports.ts";

/**
 * The operator CLI against a real hub: one `npm start` stack (scripts/launch.ts) on free ports with
 * its own state folder, and `node cli/bin.js …` run as a child process with its own
 * XDG_CONFIG_HOME, as an operator would run it.
 */
const root = path.resolve(import.meta.dirname, "../..");
const node = path.join(root, "node_modules", ".bin", "node");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let stack: LaunchedStack | undefined;
let state: string;
/** The XDG_CONFIG_HOME of every run: logged in to the stack's hub before the tests. */
let config: string;
let loginConfig: string;
let work: string;
let hub: string;
let edge: string;
let token: string;
/** Every output of every run, checked at the end for the admin token. */
const outputs: string[] = [];

/** Runs the CLI with a clean environment: no PORTCULLIS_* variables but those given. */
function cli(args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PORTCULLIS_") && k !== "NO_COLOR"));
  return new Promise((resolve, reject) => {
    const child = spawn(node, ["cli/bin.js", ...args], {
      cwd: root,
      env: { ...base, XDG_CONFIG_HOME: config, ...env },
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    if (input !== undefined) child.stdin!.end(input);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", reject);
    child.once("close", (code) => {
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs with --json and parses stdout, which must be one JSON document whatever the outcome. */
async function cliJson<T = Record<string, unknown>>(args: string[], env: Record<string, string> = {}): Promise<Run & { json: T }> {
  const run = await cli([...args, "--json"], env);
  let json: T;
  try {
    json = JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`portcullis ${args.join(" ")} --json printed something other than JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  return { ...run, json };
}

async function api(method: string, apiPath: string, body?: unknown): Promise<Response> {
  return fetch(`${hub}/api/v1${apiPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

beforeAll(async () => {
  const edgePort = await freePort();
  let hubPort = await freePort();
  while (hubPort === edgePort) hubPort = await freePort();
  state = await mkdtemp(path.join(tmpdir(), "portcullis-cli-stack-"));
  work = await mkdtemp(path.join(tmpdir(), "portcullis-cli-work-"));
  config = path.join(work, "config");
  loginConfig = path.join(work, "login-config");
  stack = await launchStack({ edgePort, hubPort, state, timeoutMs: 170_000 });
  hub = `http://localhost:${hubPort}`;
  edge = `http://localhost:${edgePort}`;
  token = /ADMIN_TOKEN=(\S+)/.exec(await readFile(path.join(root, "workers/hub/.dev.vars"), "utf8"))![1]!;
  const login = await cli(["login", "--hub", hub, "--token", token]);
  if (login.code !== 0) throw new Error(`portcullis login failed (${login.code}): ${login.stderr}`);
});

afterAll(async () => {
  if (stack !== undefined && stack.child.exitCode === null) await stack.stop().catch(() => stack?.child.kill("SIGKILL"));
  await rm(state, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

describe("portcullis login, profiles and logout", () => {
  // A config folder of their own: these tests start with no profile at all.
  const loginCli = (args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> =>
    cli(args, { XDG_CONFIG_HOME: loginConfig, ...env }, input);
  const loginCliJson = <T = Record<string, unknown>>(args: string[], env: Record<string, string> = {}) =>
    cliJson<T>(args, { XDG_CONFIG_HOME: loginConfig, ...env });

  it("refuses a bad token with exit 2 and the API's message, saving nothing", async () => {
    const run = await loginCli(["login", "--hub", hub, "--token", "not-the-token-0123456789"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/401 unauthorized\): Invalid token\./);
    expect(run.stderr).toMatch(/nothing was saved/);
    await expect(stat(path.join(loginConfig, "portcullis", "config.json"))).rejects.toThrow(/ENOENT/);
    const json = await loginCliJson(["login", "--hub", hub, "--token", "not-the-token-0123456789"]);
    expect(json.code).toBe(2);
    expect(json.json).toMatchObject({ error: { status: 401, code: "unauthorized" } });
  });

  it("answers an unreachable hub with exit 3", async () => {
    const closed = await freePort();
    const run = await loginCli(["login", "--hub", `http://127.0.0.1:${closed}`, "--token", token]);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(new RegExp(`cannot reach the hub at http://127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED`));
  });

  it("saves a checked token in a 0600 file in a 0700 directory, and lists profiles with the token masked", async () => {
    const run = await loginCli(["login", "--hub", `${hub}/api/v1/`, "--token", token]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Logged in to ${hub} as profile "default" (token …${token.slice(-4)})`);
    const file = path.join(loginConfig, "portcullis", "config.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ defaultProfile: "default", profiles: { default: { hub, token, savedAt: expect.any(String) } } });

    // The token from stdin, out of the process list.
    expect((await loginCli(["login", "--hub", hub, "--token", "-", "--profile", "second"], {}, `${token}\n`)).code).toBe(0);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((JSON.parse(await readFile(file, "utf8")) as { profiles: Record<string, { token: string }> }).profiles.second?.token).toBe(token);
    const table = await loginCli(["profiles"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^\\*\\s+default\\s+${hub.replace(/[.:/]/g, "\\$&")}\\s+…${token.slice(-4)}`, "m"));
    expect(table.stdout).toMatch(/^\s+second\s/m);
    const json = await loginCliJson<{ defaultProfile: string; items: { name: string; token: string; default: boolean }[] }>(["profiles"]);
    expect(json.json.defaultProfile).toBe("default");
    expect(json.json.items.map((p) => [p.name, p.token, p.default])).toEqual([
      ["default", `…${token.slice(-4)}`, true],
      ["second", `…${token.slice(-4)}`, false],
    ]);
  });

  it("uses --profile, lets PORTCULLIS_HUB and PORTCULLIS_TOKEN override it, and refuses an unknown profile with exit 1", async () => {
    expect((await loginCli(["login", "--hub", hub, "--token", token, "--profile", "second"])).code).toBe(0);
    expect((await loginCli(["domains", "list", "--profile", "second"])).code).toBe(0);
    const unknown = await loginCli(["domains", "list", "--profile", "nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no profile named "nope"/);
    const badToken = await loginCli(["domains", "list"], { PORTCULLIS_TOKEN: "overridden-bad-token-0123" });
    expect(badToken.code).toBe(2);
    expect(badToken.stderr).toMatch(/401 unauthorized/);
    const closed = await freePort();
    expect((await loginCli(["domains", "list"], { PORTCULLIS_HUB: `http://127.0.0.1:${closed}` })).code).toBe(3);
    // Without any profile: the environment alone.
    const empty = path.join(work, "empty-config");
    expect((await loginCli(["domains", "list"], { XDG_CONFIG_HOME: empty })).code).toBe(1);
    expect((await loginCli(["domains", "list"], { XDG_CONFIG_HOME: empty, PORTCULLIS_HUB: hub, PORTCULLIS_TOKEN: token })).code).toBe(0);
  });

  it("logs out of a profile", async () => {
    expect((await loginCli(["login", "--hub", hub, "--token", token])).code).toBe(0);
    expect((await loginCli(["login", "--hub", hub, "--token", token, "--profile", "second"])).code).toBe(0);
    const run = await loginCliJson(["logout", "--profile", "second"]);
    expect(run.code).toBe(0);
    expect(run.json).toMatchObject({ profile: "second", removed: true, defaultProfile: "default" });
    expect((await loginCli(["domains", "list", "--profile", "second"])).code).toBe(1);
    expect((await loginCli(["logout", "--profile", "second"])).code).toBe(1);
  });
});

describe("portcullis domains", () => {
  it("adds, lists and removes a domain with its route", async () => {
    const added = await cli(["domains", "add", "cli.test", "--route-webhook", "https://hooks.example.net/in", "--secret", "0123456789abcdef-secret"]);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^Added cli\.test \(route: webhook https:\/\/hooks\.example\.net\/in\)/);
    const again = await cliJson<{ created: boolean }>(["domains", "add", "cli.test"]);
    expect(again.json.created).toBe(false);
    const table = await cli(["domains", "list"]);
    expect(table.stdout).toMatch(/^DOMAIN\s+RECIPIENTS\s+ROUTE\s+CREATED$/m);
    expect(table.stdout).toMatch(/^cli\.test\s+0\s+webhook https:\/\/hooks\.example\.net\/in\s/m);
    expect(table.stdout).toMatch(/^example\.com\s+2\s+mailbox\s/m);
    const list = await cliJson<{ items: { name: string; route: { type: string; hasSecret?: boolean } }[] }>(["domains", "list"]);
    expect(list.json.items.find((d) => d.name === "cli.test")?.route).toMatchObject({ type: "webhook", hasSecret: true });
    expect(list.stdout + table.stdout).not.toContain("0123456789abcdef-secret");

    expect((await cli(["domains", "remove", "cli.test"])).code).toBe(0);
    const after = await cliJson<{ items: { name: string }[] }>(["domains", "list"]);
    expect(after.json.items.map((d) => d.name)).not.toContain("cli.test");
    const gone = await cli(["domains", "remove", "cli.test"]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/404 not_found\): No such domain\./);
    expect((await cli(["domains", "add", "x.test", "--secret", "s"])).code).toBe(1);
  });
});

describe("portcullis recipients", () => {
  it("imports 250,000 CSV rows in chunks of 100,000 with progress lines, and the hub has them all", async () => {
    expect((await cli(["domains", "add", "bulk.test"])).code).toBe(0);
    const rows = ["address,aliases"];
    for (let i = 1; i <= 250_000; i++) rows.push(`u${i}@bulk.test,`);
    const file = path.join(work, "recipients.csv");
    await writeFile(file, `${rows.join("\n")}\n`);

    const run = await cli(["recipients", "import", file]);
    expect(run.code, run.stderr).toBe(0);
    // stderr is a pipe here: plain progress lines, one per chunk, no bar.
    expect(run.stderr).not.toContain("\x1b[");
    expect(run.stderr).toMatch(/^chunk 1 \(rows 1–100,000\) done, \d+% of the file: 100,000 created/m);
    expect(run.stderr).toMatch(/^chunk 2 \(rows 100,001–200,000\) done/m);
    expect(run.stderr).toMatch(/^chunk 3 \(rows 200,001–250,000\) done, 100% of the file: 50,000 created/m);
    expect(run.stdout).toMatch(/250,000 rows in 3 requests/);
    expect(run.stdout).toMatch(/^ {2}created {4}250,000$/m);
    expect(run.stdout).toMatch(/^ {2}errors {5}0$/m);

    const domains = await cliJson<{ items: { name: string; recipients: number }[] }>(["domains", "list"]);
    expect(domains.json.items.find((d) => d.name === "bulk.test")?.recipients).toBe(250_000);

    // Again: nothing changes, and --json prints the summary alone, with no progress.
    const again = await cliJson<{ rows: number; chunks: number; created: number; unchanged: number; errorCount: number }>(["recipients", "import", file]);
    expect(again.code).toBe(0);
    expect(again.json).toMatchObject({ rows: 250_000, chunks: 3, created: 0, unchanged: 250_000, errorCount: 0 });
    expect(again.stderr).toBe("");
  });

  it("lists a domain's recipients across pages, shows one, and removes one", async () => {
    expect((await cli(["domains", "add", "pages.test"])).code).toBe(0);
    const items = Array.from({ length: 1_201 }, (_, i) => ({ address: `p${String(i).padStart(4, "0")}@pages.test` }));
    items[7] = { address: "p0007@pages.test", aliases: ["seven@pages.test"] } as (typeof items)[number];
    const file = path.join(work, "pages.json");
    await writeFile(file, JSON.stringify(items));
    expect((await cli(["recipients", "import", file])).code).toBe(0);

    const list = await cliJson<{ items: { address: string }[] }>(["recipients", "list", "--domain", "pages.test"]);
    expect(list.json.items).toHaveLength(1_201);
    expect(new Set(list.json.items.map((r) => r.address)).size).toBe(1_201);
    const table = await cli(["recipients", "list", "--domain", "pages.test"]);
    expect(table.stdout.trim().split("\n")).toHaveLength(1_202);
    expect(table.stdout).toMatch(/^p0007@pages\.test\s+seven@pages\.test\s+no\s/m);
    const limited = await cliJson<{ items: unknown[] }>(["recipients", "list", "--domain", "pages.test", "--limit", "3"]);
    expect(limited.json.items).toHaveLength(3);

    const exported = path.join(work, "pages-export.csv");
    const exportRun = await cli(["recipients", "export", "--domain", "pages.test", "--out", exported]);
    expect(exportRun.code).toBe(0);
    expect(exportRun.stderr).toMatch(/1,201 recipients written to/);
    const csv = (await readFile(exported, "utf8")).split("\r\n");
    expect(csv[0]).toBe("address,aliases,rejectInternet,sclOverride");
    expect(csv).toContain("p0007@pages.test,seven@pages.test,false,");
    expect((await stat(exported)).mode & 0o777).toBe(0o600);
    const reimport = await cliJson<{ unchanged: number; created: number }>(["recipients", "import", exported]);
    expect(reimport.json).toMatchObject({ unchanged: 1_201, created: 0 });
    expect((await cli(["recipients", "export", "--domain", "pages.test"])).stdout.split(/\r?\n/)[8]).toBe("p0007@pages.test,seven@pages.test,false,");

    const show = await cli(["recipients", "show", "seven@pages.test"]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^address\s+p0007@pages\.test$/m);
    expect((await cliJson<{ address: string }>(["recipients", "show", "seven@pages.test"])).json.address).toBe("p0007@pages.test");
    expect((await cliJson(["recipients", "remove", "p0007@pages.test"])).code).toBe(0);
    const missing = await cli(["recipients", "show", "seven@pages.test"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/404 not_found/);
  });

  it("lists the rows the API refused, numbered from the file's first row, with exit 2", async () => {
    const file = path.join(work, "bad.csv");
    await writeFile(file, 'address,aliases\r\nok1@pages.test,\r\nnot-an-address,\r\n"ok2@pages.test","a1@pages.test;a2@pages.test"\r\n');
    const run = await cli(["recipients", "import", file]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/^ {2}errors {5}1$/m);
    expect(run.stdout).toMatch(/^ {2}row 2 {2}not-an-address {2}not a valid address$/m);
    expect((await cliJson<{ aliases: string[] }>(["recipients", "show", "a2@pages.test"])).json.aliases).toEqual(["a1@pages.test", "a2@pages.test"]);
    const noHeader = path.join(work, "no-header.csv");
    await writeFile(noHeader, "x@pages.test\n");
    const usage = await cli(["recipients", "import", noHeader]);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/header/);
  });
});

describe("portcullis policy", () => {
  it("shows the API's validation errors for an invalid policy with exit 2", async () => {
    const file = path.join(work, "thresholds.json");
    await writeFile(file, JSON.stringify({ reject: "high", quarantine: 5, tag: 4 }));
    const run = await cli(["policy", "set", "thresholds", file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/400 invalid_policy\): Policy thresholds is not valid\n {2}- reject: .*expected number/);
    const json = await cliJson<{ error: { code: string; details: string[] } }>(["policy", "set", "thresholds", file]);
    expect(json.code).toBe(2);
    expect(json.json.error.code).toBe("invalid_policy");
    expect(json.json.error.details[0]).toMatch(/^reject: /);
    await writeFile(file, "{not json");
    expect((await cli(["policy", "set", "thresholds", file])).code).toBe(1);
  });

  it("sets, gets, lists and resets a policy", async () => {
    const file = path.join(work, "thresholds.json");
    await writeFile(file, JSON.stringify({ reject: 8, quarantine: 6, tag: 4 }));
    expect((await cli(["policy", "set", "thresholds", file])).code).toBe(0);
    const get = await cli(["policy", "get", "thresholds"]);
    expect(JSON.parse(get.stdout)).toEqual({ reject: 8, quarantine: 6, tag: 4 });
    const list = await cliJson<{ items: { name: string; set: boolean }[] }>(["policy", "list"]);
    expect(list.json.items.find((p) => p.name === "thresholds")?.set).toBe(true);
    expect((await cli(["policy", "list"])).stdout).toMatch(/^thresholds\s+yes\s/m);
    expect((await cliJson(["policy", "reset", "thresholds"])).json).toEqual({ policy: "thresholds", reset: true });
    expect((await cli(["policy", "get", "thresholds"])).code).toBe(2);
    expect((await cli(["policy", "get", "no-such-policy"])).code).toBe(2);
  });
});

describe("portcullis edges, sync, hubs and queue", () => {
  it("shows the edges and the sync status, and runs a sync round", async () => {
    expect((await api("POST", "/sync")).status).toBe(200);
    const edges = await cli(["edges"]);
    expect(edges.code).toBe(0);
    expect(edges.stdout).toMatch(/^edge-local\s+binding\s+\d+\s+[0-9a-f]{12}\s+yes\s/m);
    const edgesJson = await cliJson<{ items: { id: string; converged: boolean }[] }>(["edges"]);
    expect(edgesJson.json.items).toEqual([expect.objectContaining({ id: "edge-local", converged: true })]);
    const status = await cli(["sync", "status"]);
    expect(status.stdout).toMatch(/^converged 1\/1 edges on root [0-9a-f]{12}/);
    expect((await cliJson(["sync", "status"])).json).toMatchObject({ converged: 1, total: 1 });
    const now = await cli(["sync", "now"]);
    expect(now.code).toBe(0);
    expect(now.stdout).toMatch(/^edge-local\s+(unchanged|committed)\s/m);
    expect((await cliJson<{ edges: unknown[] }>(["sync", "now"])).json.edges).toHaveLength(1);
  });

  it("shows the upstream hubs", async () => {
    const run = await cli(["hubs"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^HUB\s+TRANSPORT\s+TARGET\s+PRIORITY\s+WEIGHT\s+HEALTH$/m);
    expect(run.stdout).toMatch(/^hub\s+binding\s+HUB\s+0\s+1\s+\w+/m);
    const json = await cliJson<{ items: { id: string; priority: number }[] }>(["hubs"]);
    expect(json.json.items[0]).toMatchObject({ id: "hub", priority: 0 });
  });

  it("shows the spool of every edge and of one, and answers an unknown edge with exit 2", async () => {
    const all = await cli(["queue"]);
    expect(all.stdout).toMatch(/^edge-local\s+0\s+0\s+0\s+0\s/m);
    expect((await cliJson<{ items: { edge: string }[] }>(["queue"])).json.items[0]?.edge).toBe("edge-local");
    const one = await cli(["queue", "--edge", "edge-local", "--state", "dead"]);
    expect(one.code).toBe(0);
    expect(one.stdout.trim()).toBe("No dead messages on edge edge-local.");
    expect((await cliJson<{ items: unknown[]; state: string }>(["queue", "--edge", "edge-local"])).json).toMatchObject({ items: [], state: "queued" });
    const unknown = await cli(["queue", "--edge", "no-such-edge"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/404 not_found\): No edge named no-such-edge\./);
    const show = await cliJson(["queue", "show", "edge-local", crypto.randomUUID()]);
    expect(show.code).toBe(2);
    expect(show.json).toMatchObject({ error: { status: 404 } });
    expect((await cli(["queue", "--edge", "edge-local", "--state", "lost"])).code).toBe(1);
    expect((await cli(["queue", "delete", "edge-local", crypto.randomUUID()])).code).toBe(1);
  });
});

describe("portcullis queue with spooled mail", () => {
  it("shows, suspends, resumes, retries and deletes a message spooled while the only hub is down", async () => {
    const hubs = path.join(work, "hubs-down.json");
    await writeFile(hubs, JSON.stringify([{ id: "down", transport: "https", url: "https://127.0.0.1:1", priority: 0, weight: 1, maxConcurrency: 10 }]));
    expect((await cli(["policy", "set", "hubs", hubs])).code).toBe(0);
    try {
      expect((await cli(["sync", "now"])).code).toBe(0);
      const raw = await readFile(path.join(root, "test/fixtures/welcome.eml"));
      const sent = await fetch(`${edge}/cdn-cgi/local/email?${new URLSearchParams({ from: "spooled@example.net", to: "alice@example.com" })}`, {
        method: "POST",
        body: raw,
      });
      expect(sent.status).toBe(200);

      const health = await cliJson<{ items: { id: string; edges: { edge: string; state: string }[] }[] }>(["hubs"]);
      expect(health.json.items.find((h) => h.id === "down")?.edges[0]?.edge).toBe("edge-local");
      expect((await cli(["hubs"])).stdout).toMatch(/^down\s+edge-local\s+(open|closed|half-open)\s+\d+\s/m);

      const queued = await cliJson<{ items: { deliveryId: string; envelope: { from: string } }[] }>(["queue", "--edge", "edge-local"]);
      const item = queued.json.items.find((m) => m.envelope.from === "spooled@example.net");
      expect(item).toBeDefined();
      const deliveryId = item!.deliveryId;
      expect((await cli(["queue"])).stdout).toMatch(/^edge-local\s+[1-9]\d*\s/m);
      expect((await cli(["queue", "--edge", "edge-local"])).stdout).toMatch(
        new RegExp(`^${deliveryId}\\s+queued\\s+spooled@example\\.net\\s+alice@example\\.com\\s+Welcome to Portcullis\\s`, "m"),
      );
      const show = await cli(["queue", "show", "edge-local", deliveryId]);
      expect(show.stdout).toMatch(/^state\s+queued$/m);
      expect(show.stdout).toMatch(/^from\s+spooled@example\.net$/m);
      // While the hub is still down, so the message stays in the spool.
      expect((await cliJson<{ item: { state: string } }>(["queue", "suspend", "edge-local", deliveryId])).json.item.state).toBe("suspended");
      expect((await cliJson<{ items: unknown[] }>(["queue", "--edge", "edge-local", "--state", "suspended"])).json.items).toHaveLength(1);
      expect((await cli(["queue", "resume", "edge-local", deliveryId])).stdout).toMatch(/^Resumed: .* \(now queued/);
      const deleted = await cli(["queue", "delete", "edge-local", deliveryId, "--reason", "cli test"]);
      expect(deleted.code, deleted.stderr).toBe(0);
      const tombstones = await cli(["queue", "--edge", "edge-local", "--state", "deleted"]);
      expect(tombstones.stdout).toMatch(new RegExp(`^${deliveryId}\\s+deleted\\s.*cli test$`, "m"));
      const retry = await cli(["queue", "retry", "edge-local", deliveryId]);
      expect(retry.code).toBe(2);
      expect(retry.stderr).toMatch(/\((404|409) /);
    } finally {
      expect((await cli(["policy", "reset", "hubs"])).code).toBe(0);
    }
  });
});

describe("portcullis quarantine", () => {
  it("lists, shows, reports, releases and deletes quarantined messages", async () => {
    // Every message is quarantined while the quarantine threshold is 0.
    const thresholds = path.join(work, "quarantine-all.json");
    await writeFile(thresholds, JSON.stringify({ reject: 9, quarantine: 0, tag: 0 }));
    expect((await cli(["policy", "set", "thresholds", thresholds])).code).toBe(0);
    try {
      expect((await cli(["sync", "now"])).code).toBe(0);
      const raw = await readFile(path.join(root, "test/fixtures/welcome.eml"));
      for (let i = 0; i < 2; i++) {
        const sent = await fetch(`${edge}/cdn-cgi/local/email?${new URLSearchParams({ from: "held@example.net", to: "bob@example.com" })}`, {
          method: "POST",
          body: raw,
        });
        expect(sent.status).toBe(200);
      }
    } finally {
      expect((await cli(["policy", "reset", "thresholds"])).code).toBe(0);
    }
    const list = await cliJson<{ items: { id: number; from: string; subject: string }[] }>(["quarantine", "list", "--sender", "held@example.net"]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.json.items).toHaveLength(2);
    expect(list.json.items[0]).toMatchObject({ from: "held@example.net", subject: "Welcome to Portcullis" });
    const [first, second] = list.json.items.map((m) => String(m.id));
    const table = await cli(["quarantine", "list"]);
    expect(table.stdout).toMatch(new RegExp(`^${first}\\s+\\S+ \\S+Z\\s+held@example\\.net\\s+bob@example\\.com\\s+Welcome to Portcullis\\s+\\d$`, "m"));

    const show = await cli(["quarantine", "show", first!]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^subject\s+Welcome to Portcullis$/m);
    expect(show.stdout).toMatch(/^Subject:\s+Welcome to Portcullis$/m);
    expect((await cliJson(["quarantine", "show", first!])).json).toMatchObject({ from: "held@example.net" });

    expect((await cli(["quarantine", "report", first!, "--ham"])).code).toBe(0);
    expect((await cliJson(["quarantine", "release", first!])).code).toBe(0);
    const again = await cli(["quarantine", "release", first!]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/\(409 /);
    expect((await cli(["quarantine", "delete", second!])).code).toBe(0);
    const after = await cliJson<{ items: unknown[] }>(["quarantine", "list", "--sender", "held@example.net"]);
    expect(after.json.items).toEqual([]);
  });

  it("answers an unknown message with exit 2, and needs --ham or --spam to report", async () => {
    const show = await cli(["quarantine", "show", "999999999"]);
    expect(show.code).toBe(2);
    expect(show.stderr).toMatch(/\(404 /);
    // The quarantine's own answer, not the hub's for a path it has no route for.
    expect(show.stderr).not.toMatch(/No route for/);
    expect((await cli(["quarantine", "report", "1"])).code).toBe(1);
    expect((await cli(["quarantine", "report", "1", "--ham", "--spam"])).code).toBe(1);
  });
});

describe("portcullis trace", () => {
  it("finds a message by sender and follows its delivery id", async () => {
    const since = new Date().toISOString();
    const raw = await readFile(path.join(root, "test/fixtures/welcome.eml"));
    const sent = await fetch(`${edge}/cdn-cgi/local/email?${new URLSearchParams({ from: "tracer@example.net", to: "alice@example.com" })}`, {
      method: "POST",
      body: raw,
    });
    expect(sent.status).toBe(200);
    // Tracking events reach the hub through a queue: give them a few seconds.
    let items: { deliveryId: string | null; outcome: string; recipients: string[] }[] = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const run = await cliJson<{ items: typeof items }>(["trace", "--sender", "tracer@example.net", "--since", since]);
      expect(run.code, run.stderr).toBe(0);
      items = run.json.items;
      if (items.some((e) => e.deliveryId !== null)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const event = items.find((e) => e.deliveryId !== null);
    expect(event?.recipients).toContain("alice@example.com");
    const table = await cli(["trace", "--sender", "tracer@example.net", "--since", "1h"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^AT\s+EDGE\s+KIND\s+OUTCOME/m);
    const delivery = await cliJson<{ items: { deliveryId: string }[] }>(["trace", event!.deliveryId!]);
    expect(delivery.code).toBe(0);
    expect(delivery.json.items.length).toBeGreaterThan(0);
    expect(delivery.json.items.every((e) => e.deliveryId === event!.deliveryId)).toBe(true);
  });

  it("needs something to search for", async () => {
    expect((await cli(["trace"])).code).toBe(1);
    expect((await cli(["trace", "--sender", "a@example.net", "--since", "yesterday"])).code).toBe(1);
  });
});

describe("portcullis tokens", () => {
  it("creates a token, printed once on stdout alone, that works until it is revoked", async () => {
    const created = await cli(["tokens", "create", "cli-test", "--role", "read-only"]);
    expect(created.code, created.stderr).toBe(0);
    const newToken = created.stdout.trim();
    expect(newToken).not.toMatch(/\s/);
    expect(newToken.length).toBeGreaterThanOrEqual(16);
    expect(created.stderr).not.toContain(newToken);
    const list = await cliJson<{ items: { id: string | number; name: string }[] }>(["tokens", "list"]);
    expect(list.stdout).not.toContain(newToken);
    const entry = list.json.items.find((t) => t.name === "cli-test");
    expect(entry).toBeDefined();
    expect((await cli(["tokens", "list"])).stdout).toMatch(/^\S+\s+cli-test\s+read-only\s+active\s/m);
    expect((await cli(["login", "--hub", hub, "--token", newToken, "--profile", "reader"])).code).toBe(0);
    expect((await cli(["domains", "list", "--profile", "reader"])).code).toBe(0);
    const forbidden = await cli(["domains", "add", "reader.test", "--profile", "reader"]);
    expect(forbidden.code).toBe(2);
    expect(forbidden.stderr).toMatch(/\(403 forbidden\)/);
    expect((await cli(["tokens", "revoke", String(entry!.id)])).code).toBe(0);
    expect((await cli(["domains", "list", "--profile", "reader"])).code).toBe(2);
    expect((await cli(["login", "--hub", hub, "--token", newToken, "--profile", "reader"])).code).toBe(2);
    expect((await cli(["tokens", "create", "x", "--role", "root"])).code).toBe(1);
  });
});

describe("the operator CLI's output", () => {
  it("documents every command and the exit codes in portcullis help", async () => {
    const run = await cli(["help"]);
    expect(run.code).toBe(0);
    for (const command of [
      "login",
      "logout",
      "profiles",
      "domains",
      "recipients",
      "policy",
      "hubs",
      "edges",
      "sync",
      "queue",
      "quarantine",
      "trace",
      "tokens",
    ]) {
      expect(run.stdout).toMatch(new RegExp(`^ {2}${command}\\b`, "m"));
    }
    expect(run.stdout).toMatch(/^ {2}2 {2}the hub refused/m);
    expect(run.stdout).toMatch(/^ {2}3 {2}the hub could not be reached/m);
    expect((await cli(["help", "recipients"])).stdout).toMatch(/^Usage: portcullis recipients list/);
    expect((await cli(["recipients", "frobnicate"])).code).toBe(1);
  });

  it("never prints the admin token", () => {
    expect(outputs.length).toBeGreaterThan(50);
    for (const output of outputs) expect(output).not.toContain(token);
  });
});
