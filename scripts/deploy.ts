/**
 * `npm run deploy`: Portcullis on your Cloudflare account, in the one order that works.
 *
 *   1. the hub's D1 migrations, applied to the remote database
 *   2. the hub (the edge's HUB service binding names it)
 *   3. the edge
 *
 * Options: --env staging|production (default: the top-level configs), --dry-run (print the
 * commands, run nothing). Stops at the first command that fails. See docs/deploy.md.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = path.resolve(import.meta.dirname, "..");

/** The environments both wrangler configs define (besides the top level). */
export const ENVIRONMENTS = ["staging", "production"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

const HUB_CONFIG = "workers/hub/wrangler.toml";
const EDGE_CONFIG = "wrangler.toml";

/** The wrangler commands a deploy runs, in order (each an argv after `wrangler`). */
export function deployPlan(env?: Environment): string[][] {
  const envArgs = env === undefined ? [] : ["--env", env];
  return [
    ["d1", "migrations", "apply", "DB", "--remote", "-c", HUB_CONFIG, ...envArgs],
    ["deploy", "-c", HUB_CONFIG, ...envArgs],
    ["deploy", "-c", EDGE_CONFIG, ...envArgs],
  ];
}

/** One command as an operator would type it. */
export function formatCommand(argv: string[]): string {
  return ["wrangler", ...argv].join(" ");
}

function isEnvironment(value: string): value is Environment {
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
  const wrangler = path.join(root, "node_modules", ".bin", "wrangler");
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
  out(`\ndeployed${values.env === undefined ? "" : ` (${values.env})`}: hub, then edge`);
  return 0;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
