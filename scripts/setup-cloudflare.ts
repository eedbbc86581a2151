/**
 * `npm run setup:cloudflare -- --env staging|production`: creates, with wrangler, the Cloudflare
 * resources the environment's [env.*] sections name (D1 databases, KV namespaces, R2 buckets,
 * queues) and writes the new D1 database ids and KV namespace ids into those sections of the two
 * wrangler configs, editing the TOML text in place so comments and layout survive.
 *
 * Idempotent: it lists what the account has first and creates only what is missing; a second run
 * creates nothing and leaves the configs byte-identical. Then it prints the `wrangler secret put`
 * commands each Worker still needs, or with --secrets sets them itself: it lists each Worker's
 * secrets and gives every required secret no Worker has yet a fresh random value, the same on every
 * Worker of the environment that requires it; it never overwrites a secret, and refuses when a secret
 * is on some of those Workers but not all (it cannot read the value back to copy it). Options:
 * --secrets, --dry-run (list and report, create, write and set nothing), --config-dir DIR (the
 * checkout whose wrangler.toml and workers/hub/wrangler.toml to read and edit; default: this one).
 * See docs/deploy.md.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { experimental_readRawConfig as readRawConfig, type Unstable_RawEnvironment as RawEnvironment } from "wrangler";
import { DEPLOYMENTS, EDGE_CONFIG, ENVIRONMENTS, HUB_CONFIG, envArgs, formatCommand, isEnvironment, wranglerExecutable, type Environment } from "./deploy.ts";

const root = path.resolve(import.meta.dirname, "..");

/** `queues list` pages to read at most: a runaway guard (a page holds dozens of queues), not a quota. */
const MAX_QUEUE_PAGES = 100;
/** Room for wrangler's output (a JSON list of every D1 database or KV namespace of the account). */
const MAX_WRANGLER_OUTPUT_BYTES = 64 * 1024 * 1024;

/** Secrets a Worker may have besides those its config requires, with what they are for. */
const OPTIONAL_SECRETS: Record<"hub" | "edge", string[]> = { hub: [], edge: ["DKIM_KEYS"] };
/** Random bytes in each secret --secrets generates (64 hex digits, as `openssl rand -hex 32`): out of reach of guessing. */
const SECRET_BYTES = 32;

export class SetupError extends Error {}

/** A wrangler command that ran and failed, with everything it printed. */
export class WranglerError extends SetupError {
  readonly output: string;
  constructor(message: string, output: string) {
    super(message);
    this.output = output;
  }
}

/**
 * Runs wrangler with these arguments (and `input` on its standard input) and returns its standard
 * output; throws WranglerError when it fails.
 */
export type Wrangler = (args: string[], input?: string) => string;

export function spawnWrangler(executable = wranglerExecutable()): Wrangler {
  return (args, input) => {
    const result = spawnSync(executable, args, {
      cwd: root,
      encoding: "utf8",
      input,
      maxBuffer: MAX_WRANGLER_OUTPUT_BYTES,
      // plain text to parse: no colours, no spinner
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", CI: "1" },
    });
    if (result.error !== undefined) throw new SetupError(`could not run wrangler (${executable}): ${result.error.message}`);
    if (result.status !== 0) {
      const said = (result.stderr + result.stdout)
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "")
        .slice(0, 6)
        .join(" | ");
      throw new WranglerError(`"${formatCommand(args)}" failed (exit ${result.status ?? result.signal}): ${said}`, result.stderr + result.stdout);
    }
    return result.stdout;
  };
}

type Worker = "hub" | "edge";
const CONFIGS: Record<Worker, string> = { hub: HUB_CONFIG, edge: EDGE_CONFIG };

/** One resource of one [env.*] section whose id lives in the config. */
interface IdSlot {
  worker: Worker;
  section: string;
  /** The TOML array of tables and the key/value that picks this entry out of it. */
  table: "d1_databases" | "kv_namespaces";
  match: { key: string; value: string };
  idKey: "database_id" | "id";
  /** The D1 database's name or the KV namespace's title in the account. */
  name: string;
  id: string;
}

export interface Plan {
  d1: IdSlot[];
  kv: IdSlot[];
  r2: string[];
  queues: string[];
  /** Per Worker deployment: the config, the section and the secrets its config requires. */
  workers: { worker: Worker; section: string; name: string; secrets: string[] }[];
}

/**
 * The KV namespace's title for a binding of a section: `<worker>-<binding>-<section>`, e.g.
 * portcullis-edge-directory-production-us. It is the placeholder id the configs carry until setup
 * writes the real one.
 */
export function kvTitle(workerName: string, binding: string, section: string): string {
  return `${workerName}-${binding.toLowerCase().replaceAll("_", "-")}-${section}`;
}

/** Reads the environment's sections of both configs under configDir. */
export function planFor(env: Environment, configDir: string): Plan {
  const plan: Plan = { d1: [], kv: [], r2: [], queues: [], workers: [] };
  for (const worker of ["hub", "edge"] as const) {
    const file = path.join(configDir, CONFIGS[worker]);
    let rawConfig: ReturnType<typeof readRawConfig>["rawConfig"];
    try {
      ({ rawConfig } = readRawConfig({ config: file }));
    } catch (e) {
      throw new SetupError(`could not read ${file}: ${(e as Error).message}`);
    }
    const sections = worker === "hub" ? DEPLOYMENTS[env].hubs : DEPLOYMENTS[env].edges;
    for (const section of sections) {
      const e: RawEnvironment | undefined = rawConfig.env?.[section];
      if (e === undefined) throw new SetupError(`${CONFIGS[worker]} has no [env.${section}] section`);
      if (e.name === undefined || rawConfig.name === undefined) throw new SetupError(`${CONFIGS[worker]}: [env.${section}] needs a name`);
      plan.workers.push({ worker, section, name: e.name, secrets: e.secrets?.required ?? [] });
      for (const d of e.d1_databases ?? []) {
        if (d.database_name === undefined) throw new SetupError(`${CONFIGS[worker]}: [env.${section}] D1 binding ${d.binding} needs a database_name`);
        const name = d.database_name;
        plan.d1.push({
          worker,
          section,
          table: "d1_databases",
          match: { key: "database_name", value: name },
          idKey: "database_id",
          name,
          id: d.database_id ?? "",
        });
      }
      for (const k of e.kv_namespaces ?? []) {
        const name = kvTitle(rawConfig.name, k.binding, section);
        plan.kv.push({ worker, section, table: "kv_namespaces", match: { key: "binding", value: k.binding }, idKey: "id", name, id: k.id ?? "" });
      }
      for (const b of e.r2_buckets ?? []) if (b.bucket_name !== undefined && !plan.r2.includes(b.bucket_name)) plan.r2.push(b.bucket_name);
      for (const q of [...(e.queues?.producers ?? []), ...(e.queues?.consumers ?? [])]) {
        if (q.queue !== undefined && !plan.queues.includes(q.queue)) plan.queues.push(q.queue);
      }
    }
  }
  return plan;
}

/** wrangler's JSON list output (d1 list --json, kv namespace list), after any banner line. */
function jsonList<T>(output: string, what: string): T[] {
  const start = output.indexOf("[");
  try {
    const list: unknown = JSON.parse(output.slice(start));
    if (start !== -1 && Array.isArray(list)) return list as T[];
  } catch {
    // reported below
  }
  throw new SetupError(`could not read the ${what} wrangler listed: ${output.slice(0, 200)}`);
}

/** `r2 bucket list` prints one "name: <bucket>" / "creation_date: …" block per bucket. */
export function parseR2Buckets(output: string): string[] {
  return [...output.matchAll(/^name:\s+(\S+)\s*$/gm)].map((m) => m[1]!);
}

/** `queues list` prints a table (cli-table3) with a `name` column; returns the names on this page. */
export function parseQueueTable(output: string): string[] {
  const rows = output
    .split("\n")
    .filter((l) => l.startsWith("│"))
    .map((l) =>
      l
        .split("│")
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  const column = rows[0]?.indexOf("name") ?? -1;
  if (rows.length === 0) return [];
  if (column === -1) throw new SetupError(`could not read the queues wrangler listed: ${output.slice(0, 200)}`);
  return rows.slice(1).map((r) => r[column]!);
}

export interface Account {
  d1: Map<string, string>;
  kv: Map<string, string>;
  r2: Set<string>;
  queues: Set<string>;
}

const listD1 = (wrangler: Wrangler) =>
  new Map(jsonList<{ name: string; uuid: string }>(wrangler(["d1", "list", "--json"]), "D1 databases").map((d) => [d.name, d.uuid]));
const listKv = (wrangler: Wrangler) =>
  new Map(jsonList<{ title: string; id: string }>(wrangler(["kv", "namespace", "list"]), "KV namespaces").map((k) => [k.title, k.id]));

function listQueues(wrangler: Wrangler): Set<string> {
  const names = new Set<string>();
  for (let page = 1; page <= MAX_QUEUE_PAGES; page++) {
    const onPage = parseQueueTable(wrangler(["queues", "list", "--page", String(page)]));
    if (onPage.length === 0) return names;
    for (const name of onPage) names.add(name);
  }
  throw new SetupError(`wrangler queues list still had queues after ${MAX_QUEUE_PAGES} pages`);
}

export function listAccount(wrangler: Wrangler): Account {
  return { d1: listD1(wrangler), kv: listKv(wrangler), r2: new Set(parseR2Buckets(wrangler(["r2", "bucket", "list"]))), queues: listQueues(wrangler) };
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Sets `idKey = "<id>"` in the `[[env.<section>.<table>]]` entry whose `match.key` is `match.value`,
 * changing nothing else in the text. Throws when there is no such entry or key.
 */
export function setId(text: string, slot: Pick<IdSlot, "section" | "table" | "match" | "idKey">, id: string): string {
  const header = new RegExp(`^\\[\\[env\\.${escapeRegExp(slot.section)}\\.${slot.table}\\]\\][ \\t]*$`, "gm");
  for (const h of text.matchAll(header)) {
    const start = h.index + h[0].length;
    const next = text.slice(start).search(/^\[/m);
    const end = next === -1 ? text.length : start + next;
    const block = text.slice(start, end);
    if (!new RegExp(`^${slot.match.key}\\s*=\\s*"${escapeRegExp(slot.match.value)}"`, "m").test(block)) continue;
    const key = new RegExp(`^(${slot.idKey}\\s*=\\s*)"[^"]*"`, "m");
    if (!key.test(block))
      throw new SetupError(`[[env.${slot.section}.${slot.table}]] ${slot.match.key} = "${slot.match.value}" has no ${slot.idKey} line to fill in`);
    return text.slice(0, start) + block.replace(key, `$1"${id}"`) + text.slice(end);
  }
  throw new SetupError(
    `no [[env.${slot.section}.${slot.table}]] entry with ${slot.match.key} = "${slot.match.value}" (the setup edits only plain env.<name> headers)`,
  );
}

/**
 * The names of a Worker's secrets: `wrangler secret list --name <worker>` prints them as JSON
 * (`[{ "name": …, "type": "secret_text" }]`, its default format). No --env: with --name, wrangler
 * would read it as a legacy environment and list the Worker "<worker>-<env>". A Worker that does not
 * exist yet has none (`secret put` creates it).
 */
export function listSecrets(wrangler: Wrangler, worker: string, config: string): string[] {
  let output: string;
  try {
    output = wrangler(["secret", "list", "--name", worker, "-c", config, "--format", "json"]);
  } catch (e) {
    if (e instanceof WranglerError && e.output.includes(`Worker "${worker}" not found`)) return [];
    throw e;
  }
  return jsonList<{ name: string }>(output, `secrets of ${worker}`).map((s) => s.name);
}

export interface SecretsPlan {
  /** Each secret no Worker has yet, with the Workers to set it on (one fresh value for all of them). */
  missing: Map<string, string[]>;
  /** Secrets on some of the Workers that require them but not all: what to tell the operator. */
  conflicts: string[];
}

/**
 * What --secrets does, given the secrets each Worker of the environment has. Every required secret
 * holds one value across the environment (DIRECTORY_KEY and SYNC_SIGNING_KEY on hubs and edges,
 * ADMIN_TOKEN on both hubs), so it is generated only when none of the Workers requiring it has it.
 */
export function planSecrets(env: Environment, workers: { name: string; secrets: string[] }[], has: Map<string, Set<string>>): SecretsPlan {
  const plan: SecretsPlan = { missing: new Map(), conflicts: [] };
  for (const secret of new Set(workers.flatMap((w) => w.secrets))) {
    const needing = workers.filter((w) => w.secrets.includes(secret)).map((w) => w.name);
    const holders = needing.filter((w) => has.get(w)?.has(secret) === true);
    const lacking = needing.filter((w) => !holders.includes(w));
    if (lacking.length === 0) continue;
    if (holders.length === 0) plan.missing.set(secret, lacking);
    else
      plan.conflicts.push(
        `${secret} is set on ${holders.join(", ")} but not on ${lacking.join(", ")}. It must have the same value on every Worker of ${env}, ` +
          `and the setup cannot read a secret back: copy the value ${holders.length === 1 ? "it holds" : "they hold"} onto ` +
          `${lacking.join(", ")} (printf %s "$VALUE" | npx wrangler secret put ${secret} --name <worker>), or, if nothing uses it yet, ` +
          `delete it (npx wrangler secret delete ${secret} --name <worker>) so that the setup generates a new one; then run the setup again.`,
      );
  }
  return plan;
}

/** --secrets: lists the secrets of the environment's Workers and sets the missing ones; returns what it set. */
function setupSecrets(env: Environment, plan: Plan, dryRun: boolean, wrangler: Wrangler, out: (line: string) => void): string[] {
  out(`Reading the secrets of ${plan.workers.map((w) => w.name).join(", ")}…`);
  const has = new Map(plan.workers.map((w) => [w.name, new Set(listSecrets(wrangler, w.name, CONFIGS[w.worker]))]));
  const { missing, conflicts } = planSecrets(env, plan.workers, has);
  if (conflicts.length > 0) throw new SetupError(`refusing to set the secrets of ${env}:\n  ${conflicts.join("\n  ")}`);

  for (const w of plan.workers) for (const secret of w.secrets) if (has.get(w.name)!.has(secret)) out(`exists   secret ${secret} on ${w.name}`);
  const set: string[] = [];
  let adminToken: string | undefined;
  for (const [secret, workers] of missing) {
    const value = randomBytes(SECRET_BYTES).toString("hex");
    const done: string[] = [];
    out(`${dryRun ? "would set" : "setting"} secret ${secret} on ${workers.join(", ")} (one new random value for all)`);
    for (const name of workers) {
      if (!dryRun) {
        const w = plan.workers.find((p) => p.name === name)!;
        try {
          // the value on standard input only: never in an argument, which other processes can read
          wrangler(["secret", "put", secret, "--name", name, "-c", CONFIGS[w.worker]], value);
        } catch (e) {
          if (done.length === 0 || !(e instanceof SetupError)) throw e;
          throw new SetupError(
            `${e.message}\n${secret} is now on ${done.join(", ")} but not on the other Workers, and the value is gone. Nothing uses it yet: ` +
              `delete it from ${done.join(", ")} (npx wrangler secret delete ${secret} --name <worker>) and run the setup again.`,
          );
        }
        done.push(name);
      }
      set.push(`${secret} on ${name}`);
    }
    if (secret === "ADMIN_TOKEN" && !dryRun) adminToken = value;
  }

  for (const w of plan.workers) {
    for (const secret of OPTIONAL_SECRETS[w.worker]) {
      out(
        `optional secret ${secret} on ${w.name}: ${has.get(w.name)!.has(secret) ? "set" : "not set"} (never generated: set it yourself if the relay signs mail, see docs/relay.md)`,
      );
    }
  }
  out("");
  out(
    set.length === 0
      ? `Secrets: every required secret of ${env} is set; none changed.`
      : `Secrets: ${dryRun ? "would set" : "set"} ${set.length} (${[...missing.keys()].join(", ")}).`,
  );
  if (adminToken !== undefined) {
    out("");
    out(`The new ADMIN_TOKEN of ${env}, the admin API's bootstrap token (shown this once; keep it in your password manager):`);
    out(`ADMIN_TOKEN=${adminToken}`);
  }
  return set;
}

export interface SetupOptions {
  env: Environment;
  configDir: string;
  dryRun: boolean;
  /** Set the missing secrets rather than print the commands that would. */
  secrets: boolean;
  wrangler: Wrangler;
  out: (line: string) => void;
}

/** What a run did: names created (or that a dry run would create), ids written and secrets set. */
export interface SetupResult {
  created: string[];
  written: string[];
  secrets: string[];
}

export function setup({ env, configDir, dryRun, secrets, wrangler, out }: SetupOptions): SetupResult {
  const plan = planFor(env, configDir);
  out(`Reading the account's D1 databases, KV namespaces, R2 buckets and queues…`);
  const account = listAccount(wrangler);
  const created: string[] = [];
  const create = (kind: string, args: string[], name: string) => {
    created.push(`${kind} ${name}`);
    out(`${dryRun ? "would create" : "creating"} ${kind} ${name}`);
    if (!dryRun) wrangler(args);
  };
  const exists = (kind: string, name: string) => out(`exists   ${kind} ${name}`);

  for (const name of new Set(plan.d1.map((d) => d.name))) {
    if (account.d1.has(name)) exists("D1 database", name);
    else create("D1 database", ["d1", "create", name], name);
  }
  for (const name of new Set(plan.kv.map((k) => k.name))) {
    if (account.kv.has(name)) exists("KV namespace", name);
    else create("KV namespace", ["kv", "namespace", "create", name], name);
  }
  for (const name of plan.r2) {
    if (account.r2.has(name)) exists("R2 bucket", name);
    else create("R2 bucket", ["r2", "bucket", "create", name], name);
  }
  for (const name of plan.queues) {
    if (account.queues.has(name)) exists("queue", name);
    else create("queue", ["queues", "create", name], name);
  }

  // the ids of what was just created: listed again rather than read from create's prose
  if (!dryRun && created.some((c) => c.startsWith("D1 "))) account.d1 = listD1(wrangler);
  if (!dryRun && created.some((c) => c.startsWith("KV "))) account.kv = listKv(wrangler);

  const written: string[] = [];
  const texts = new Map<Worker, string>();
  for (const slot of [...plan.d1, ...plan.kv]) {
    const id = (slot.table === "d1_databases" ? account.d1 : account.kv).get(slot.name);
    if (id === undefined) {
      if (!dryRun) throw new SetupError(`${slot.name} was created but wrangler does not list it`);
      out(`would write the new ${slot.idKey} of ${slot.name} into [env.${slot.section}] of ${CONFIGS[slot.worker]}`);
      continue;
    }
    if (id === slot.id) continue;
    const file = path.join(configDir, CONFIGS[slot.worker]);
    texts.set(slot.worker, setId(texts.get(slot.worker) ?? readFileSync(file, "utf8"), slot, id));
    written.push(`${CONFIGS[slot.worker]} [env.${slot.section}] ${slot.idKey} = "${id}" (${slot.name})`);
    out(`${dryRun ? "would write" : "writing"} ${written.at(-1)}`);
  }
  if (!dryRun) for (const [worker, text] of texts) writeFileSync(path.join(configDir, CONFIGS[worker]), text);

  out("");
  out(
    created.length === 0 && written.length === 0
      ? `Nothing to do: every resource of ${env} exists and the configs hold their ids.`
      : `${dryRun ? "Dry run: would create" : "Created"} ${created.length} resource(s), ${dryRun ? "would write" : "wrote"} ${written.length} id(s).`,
  );
  out("");
  const set = secrets ? setupSecrets(env, plan, dryRun, wrangler, out) : [];
  if (!secrets) {
    out(`Secrets: set each with the same value on every Worker of ${env} (openssl rand -hex 32), or run the setup with --secrets; see docs/deploy.md.`);
    out(`Setting them before the first deploy also creates each Worker, which the others' service bindings need.`);
    for (const w of plan.workers) {
      for (const secret of w.secrets) out(`  npx ${formatCommand(["secret", "put", secret, "-c", CONFIGS[w.worker], ...envArgs(w.section)])}`);
      for (const secret of OPTIONAL_SECRETS[w.worker])
        out(`  npx ${formatCommand(["secret", "put", secret, "-c", CONFIGS[w.worker], ...envArgs(w.section)])}   # optional`);
    }
  }
  out("");
  out(`Then: npm run deploy -- --env ${env}`);
  return { created, written, secrets: set };
}

export const USAGE = `Usage: npm run setup:cloudflare -- --env ${ENVIRONMENTS.join("|")} [--secrets] [--dry-run] [--config-dir DIR]`;

/** Runs the setup; returns the process exit code. */
export function main(
  argv: string[],
  out: (line: string) => void = console.log,
  err: (line: string) => void = console.error,
  wrangler: Wrangler = spawnWrangler(),
): number {
  let values: { env?: string; "dry-run"?: boolean; secrets?: boolean; "config-dir"?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        env: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        secrets: { type: "boolean", default: false },
        "config-dir": { type: "string" },
      },
    }));
  } catch (e) {
    err(`setup:cloudflare: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.env === undefined || !isEnvironment(values.env)) {
    err(
      `setup:cloudflare: ${values.env === undefined ? "--env is required" : `unknown environment "${values.env}"`} (expected ${ENVIRONMENTS.join(" or ")})\n${USAGE}`,
    );
    return 2;
  }
  try {
    setup({
      env: values.env,
      configDir: path.resolve(values["config-dir"] ?? root),
      dryRun: values["dry-run"] === true,
      secrets: values.secrets === true,
      wrangler,
      out,
    });
    return 0;
  } catch (e) {
    if (!(e instanceof SetupError)) throw e;
    err(`setup:cloudflare: ${e.message}`);
    err("Nothing after that step ran; fix it and run the setup again (it skips what exists).");
    return 1;
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
