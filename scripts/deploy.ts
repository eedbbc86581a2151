/**
 * `npm run deploy`: Portcullis on your Cloudflare account, in the one order that works.
 *
 *   1. the D1 migrations of every hub of the environment (the primary's database, then the
 *      standby's), applied to the remote databases
 *   2. the hubs, primary first (the edges' HUB and HUB_STANDBY service bindings name them)
 *   3. the edges
 *
 * Options: --env staging|production (default: the top-level configs, one hub and one edge),
 * --dry-run (print the commands, run nothing). Stops at the first command that fails. See
 * docs/deploy.md.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = path.resolve(import.meta.dirname, "..");

/**
 * What one `--env` deploys: the [env.*] sections of the hub's and the edge's configs, in deploy
 * order. A staging or production environment is a primary hub, its standby and the edges.
 */
export const DEPLOYMENTS = {
  staging: { hubs: ["staging", "staging-standby"], edges: ["staging"] },
  production: { hubs: ["production", "production-standby"], edges: ["production", "production-us"] },
} as const satisfies Record<string, { hubs: readonly string[]; edges: readonly string[] }>;

export type Environment = keyof typeof DEPLOYMENTS;
export const ENVIRONMENTS = Object.keys(DEPLOYMENTS) as Environment[];

export const HUB_CONFIG = "workers/hub/wrangler.toml";
export const EDGE_CONFIG = "wrangler.toml";

/** The [env.*] sections one deploy covers; without --env, the top level of each config. */
export function sectionsOf(env?: Environment): { hubs: readonly (string | undefined)[]; edges: readonly (string | undefined)[] } {
  return env === undefined ? { hubs: [undefined], edges: [undefined] } : DEPLOYMENTS[env];
}

/** `--env <section>`, or nothing for the top level. */
export const envArgs = (section: string | undefined): string[] => (section === undefined ? [] : ["--env", section]);

/** The wrangler commands a deploy runs, in order (each an argv after `wrangler`). */
export function deployPlan(env?: Environment): string[][] {
  const { hubs, edges } = sectionsOf(env);
  return [
    ...hubs.map((hub) => ["d1", "migrations", "apply", "DB", "--remote", "-c", HUB_CONFIG, ...envArgs(hub)]),
    ...hubs.map((hub) => ["deploy", "-c", HUB_CONFIG, ...envArgs(hub)]),
    ...edges.map((edge) => ["deploy", "-c", EDGE_CONFIG, ...envArgs(edge)]),
  ];
}

/**
 * The wrangler executable: the project's own, or PORTCULLIS_WRANGLER when set (the tests point it at
 * a fake that keeps an account in a JSON file).
 */
export function wranglerExecutable(): string {
  return process.env.PORTCULLIS_WRANGLER || path.join(root, "node_modules", ".bin", "wrangler");
}

/** One command as an operator would type it. */
export function formatCommand(argv: string[]): string {
  return ["wrangler", ...argv].join(" ");
}

export function isEnvironment(value: string): value is Environment {
  return (ENVIRONMENTS as readonly string[]).includes(value);
}

/** Runs the deploy (or prints it); returns the process exit code. */
export function main(argv: string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): number {
  let values: { env?: string; "dry-run"?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { env: { type: "string" }, "dry-run": { type: "boolean", default: false } } }));
  } catch (e) {
    err(`deploy: ${(e as Error).message}`);
    return 2;
  }
  if (values.env !== undefined && !isEnvironment(values.env)) {
    err(`deploy: unknown environment "${values.env}" (expected ${ENVIRONMENTS.join(" or ")})`);
    return 2;
  }
  const plan = deployPlan(values.env);
  if (values["dry-run"]) {
    for (const command of plan) out(formatCommand(command));
    return 0;
  }
  const wrangler = wranglerExecutable();
  for (const command of plan) {
    out(`\n$ ${formatCommand(command)}`);
    const result = spawnSync(wrangler, command, { cwd: root, stdio: "inherit" });
    if (result.error !== undefined) {
      err(`deploy: could not run wrangler: ${result.error.message}`);
      return 1;
    }
    if (result.status !== 0) {
      err(`deploy: "${formatCommand(command)}" failed (exit ${result.status ?? result.signal}); nothing after it ran`);
      return result.status ?? 1;
    }
  }
  const { hubs, edges } = sectionsOf(values.env);
  out(`\ndeployed${values.env === undefined ? "" : ` (${values.env})`}: ${hubs.length} hub(s), then ${edges.length} edge(s)`);
  return 0;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
