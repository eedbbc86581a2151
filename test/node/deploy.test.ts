import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { experimental_readRawConfig as readRawConfig, type Unstable_RawEnvironment as RawEnvironment } from "wrangler";
import { DEPLOYMENTS, EDGE_CONFIG, ENVIRONMENTS, HUB_CONFIG, deployPlan, formatCommand, main } from "../../scripts/deploy.ts";

const root = path.resolve(import.meta.dirname, "../..");

function run(...argv: string[]): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(
    argv,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out, err };
}

describe("npm run deploy", () => {
  it("--dry-run prints migrations, then the hub, then the edge, and runs nothing", () => {
    expect(run("--dry-run")).toEqual({
      code: 0,
      out: [
        "wrangler d1 migrations apply DB --remote -c workers/hub/wrangler.toml",
        "wrangler deploy -c workers/hub/wrangler.toml",
        "wrangler deploy -c wrangler.toml",
      ],
      err: [],
    });
  });

  it("--env production migrates both hubs' databases, deploys the primary, the standby, then both edges", () => {
    expect(run("--dry-run", "--env", "production").out).toEqual([
      "wrangler d1 migrations apply DB --remote -c workers/hub/wrangler.toml --env production",
      "wrangler d1 migrations apply DB --remote -c workers/hub/wrangler.toml --env production-standby",
      "wrangler deploy -c workers/hub/wrangler.toml --env production",
      "wrangler deploy -c workers/hub/wrangler.toml --env production-standby",
      "wrangler deploy -c wrangler.toml --env production",
      "wrangler deploy -c wrangler.toml --env production-us",
    ]);
  });

  it("--env staging deploys staging's hub, its standby and its edge", () => {
    expect(run("--dry-run", "--env=staging").out).toEqual([
      "wrangler d1 migrations apply DB --remote -c workers/hub/wrangler.toml --env staging",
      "wrangler d1 migrations apply DB --remote -c workers/hub/wrangler.toml --env staging-standby",
      "wrangler deploy -c workers/hub/wrangler.toml --env staging",
      "wrangler deploy -c workers/hub/wrangler.toml --env staging-standby",
      "wrangler deploy -c wrangler.toml --env staging",
    ]);
  });

  it("refuses an unknown environment or option before running anything", () => {
    const unknownEnv = run("--dry-run", "--env", "prod");
    expect(unknownEnv.code).toBe(2);
    expect(unknownEnv.out).toEqual([]);
    expect(unknownEnv.err.join("\n")).toMatch(/unknown environment "prod"/);
    // a section is not an environment: production-us is deployed with production
    expect(run("--dry-run", "--env", "production-us").code).toBe(2);
    const unknownOption = run("--dryrun");
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.out).toEqual([]);
  });

  it("works as the npm script: node scripts/deploy.ts --dry-run --env staging", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, "scripts/deploy.ts"), "--dry-run", "--env", "staging"], { cwd: root });
    expect(stdout.trim().split("\n")).toEqual(deployPlan("staging").map(formatCommand));
  });

  it("stops at the first wrangler command that fails and runs nothing after it", async () => {
    const fake = path.join(root, "test/fixtures/fake-wrangler.js");
    const dir = await mkdtemp(path.join(tmpdir(), "portcullis-deploy-"));
    const account = path.join(dir, "account.json");
    const result = await promisify(execFile)(process.execPath, [path.join(root, "scripts/deploy.ts"), "--env", "production"], {
      cwd: root,
      env: { ...process.env, PORTCULLIS_WRANGLER: fake, FAKE_WRANGLER_ACCOUNT: account, FAKE_WRANGLER_FAIL: "deploy" },
    }).then(
      () => ({ code: 0, stdout: "", stderr: "" }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain("$ wrangler d1 migrations apply DB --remote -c workers/hub/wrangler.toml --env production-standby");
    expect(result.stdout).toContain("$ wrangler deploy -c workers/hub/wrangler.toml --env production\n");
    expect(result.stdout).not.toContain("$ wrangler deploy -c workers/hub/wrangler.toml --env production-standby");
    expect(result.stdout).not.toContain("deploy -c wrangler.toml");
    expect(result.stderr).toMatch(/"wrangler deploy -c workers\/hub\/wrangler.toml --env production" failed \(exit 1\); nothing after it ran/);
    const calls = (JSON.parse(await readFile(account, "utf8")) as { calls: string[][] }).calls.map((c) => c.join(" "));
    expect(calls).toEqual(
      deployPlan("production")
        .slice(0, 3)
        .map((c) => c.join(" ")),
    );
    await rm(dir, { recursive: true, force: true });
  });
});

/**
 * Wrangler inherits no bindings, vars, send_email or secrets into an [env.*] section: each section
 * repeats them. These tests fail when a binding or var added at the top level is missing from an
 * environment, or when two deployments would share a resource that must be their own.
 */
describe("the wrangler configs' environments", () => {
  const WORKERS = { hub: HUB_CONFIG, edge: EDGE_CONFIG } as const;
  type Worker = keyof typeof WORKERS;
  const raw = (worker: Worker) => readRawConfig({ config: path.join(root, WORKERS[worker]) }).rawConfig;
  const configs = { hub: raw("hub"), edge: raw("edge") };
  const sections = (worker: Worker): [string, RawEnvironment][] => Object.entries(configs[worker].env ?? {});

  /** Every binding name of a config section, by kind. */
  function bindings(e: RawEnvironment): Record<string, string[]> {
    return {
      d1_databases: (e.d1_databases ?? []).map((b) => b.binding),
      kv_namespaces: (e.kv_namespaces ?? []).map((b) => b.binding),
      r2_buckets: (e.r2_buckets ?? []).map((b) => b.binding),
      services: (e.services ?? []).map((b) => b.binding),
      durable_objects: (e.durable_objects?.bindings ?? []).map((b) => b.name),
      queue_producers: (e.queues?.producers ?? []).map((b) => b.binding),
      send_email: (e.send_email ?? []).map((b) => b.name),
      vars: Object.keys(e.vars ?? {}),
    };
  }

  /** The account-wide resources a section names (a queue or a bucket by name, a KV namespace or D1 database by id). */
  function resources(e: RawEnvironment): string[] {
    return [
      ...(e.d1_databases ?? []).flatMap((d) => [`d1:${d.database_name}`, `d1-id:${d.database_id}`]),
      ...(e.kv_namespaces ?? []).map((k) => `kv:${k.id}`),
      ...(e.r2_buckets ?? []).map((b) => `r2:${b.bucket_name}`),
      ...new Set([...(e.queues?.producers ?? []).map((q) => `queue:${q.queue}`), ...(e.queues?.consumers ?? []).map((q) => `queue:${q.queue}`)]),
    ];
  }

  /** Resources deployments share on purpose: many edges produce tracking events, and a standby reads its primary's backups. */
  const SHARED = /^(?:queue:portcullis-tracking|r2:portcullis-backup)(?:-(staging|production))?$/;

  it("the environments deploy covers are exactly the configs' [env.*] sections", () => {
    expect(Object.keys(configs.hub.env ?? {}).sort()).toEqual(ENVIRONMENTS.flatMap((env) => DEPLOYMENTS[env].hubs).sort());
    expect(Object.keys(configs.edge.env ?? {}).sort()).toEqual(ENVIRONMENTS.flatMap((env) => DEPLOYMENTS[env].edges).sort());
  });

  it("every top-level binding and var is present in every environment, and the secrets, send_email and crons are the same", () => {
    for (const worker of ["hub", "edge"] as const) {
      const top = configs[worker];
      for (const [name, env] of sections(worker)) {
        const mine = bindings(env);
        for (const [kind, names] of Object.entries(bindings(top))) {
          for (const binding of names) expect(mine[kind], `${worker} [env.${name}] lacks ${kind} ${binding}`).toContain(binding);
        }
        expect(env.secrets, `${worker} [env.${name}] secrets`).toEqual(top.secrets);
        expect(env.triggers, `${worker} [env.${name}] triggers`).toEqual(top.triggers);
        expect(env.observability, `${worker} [env.${name}] observability`).toEqual(top.observability);
      }
    }
  });

  it("every deployment has its own Worker name and its own resources, but for the intentionally shared ones", () => {
    const owners = new Map<string, string[]>();
    for (const worker of ["hub", "edge"] as const) {
      const all: [string, RawEnvironment][] = [["top", configs[worker]], ...sections(worker)];
      for (const [name, env] of all) {
        const deployment = `${worker}:${name}`;
        for (const resource of [`worker:${env.name}`, ...resources(env)]) owners.set(resource, [...(owners.get(resource) ?? []), deployment]);
      }
    }
    for (const [resource, deployments] of owners) {
      const shared = SHARED.exec(resource);
      if (shared !== null) {
        // shared only inside one environment: staging never touches production's, nor the top level's
        const environment = shared[1] ?? "top";
        for (const d of deployments) expect(d.split(":")[1], `${resource} used by ${d}`).toMatch(new RegExp(`^${environment}(-|$)`));
      } else {
        expect(deployments, `${resource} is used by ${deployments.join(", ")}`).toHaveLength(1);
      }
    }
  });

  it("every queue has exactly one consumer Worker, and every consumed queue has a producer", () => {
    const all = (["hub", "edge"] as const).flatMap((w) => [["top", configs[w]] as const, ...sections(w)]);
    const consumers = new Map<string, number>();
    const produced = new Set<string>();
    for (const [, env] of all) {
      for (const c of env.queues?.consumers ?? []) consumers.set(c.queue, (consumers.get(c.queue) ?? 0) + 1);
      for (const p of env.queues?.producers ?? []) produced.add(p.queue);
    }
    for (const queue of produced) expect(consumers.get(queue), `consumers of ${queue}`).toBe(1);
    for (const queue of consumers.keys()) expect(produced, `producers of ${queue}`).toContain(queue);
  });

  it("service bindings name Workers of the same environment, and each edge and hub has its own id", () => {
    for (const env of ENVIRONMENTS) {
      const { hubs, edges } = DEPLOYMENTS[env];
      const names = new Set([...hubs.map((h) => configs.hub.env![h]!.name), ...edges.map((e) => configs.edge.env![e]!.name)]);
      for (const [worker, list] of [
        ["hub", hubs],
        ["edge", edges],
      ] as const) {
        for (const section of list) {
          for (const s of configs[worker].env![section]!.services ?? []) expect(names, `${worker} [env.${section}] ${s.binding}`).toContain(s.service);
        }
      }
      expect(new Set(edges.map((e) => configs.edge.env![e]!.vars!.EDGE_ID)).size).toBe(edges.length);
      expect(new Set(hubs.map((h) => configs.hub.env![h]!.vars!.HUB_ID)).size).toBe(hubs.length);
      // the first hub is the primary, the others are standbys
      expect(hubs.map((h) => configs.hub.env![h]!.vars!.HUB_ROLE)).toEqual(hubs.map((_, i) => (i === 0 ? "primary" : "standby")));
    }
    expect(configs.edge.env!.production!.vars!.EDGE_ID).toBe("edge-eu");
    expect(configs.edge.env!["production-us"]!.vars!.EDGE_ID).toBe("edge-us");
  });
});
