import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { deployPlan, formatCommand, main } from "../../scripts/deploy.ts";

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

  it("--env selects the same environment for every command", () => {
    for (const env of ["staging", "production"] as const) {
      expect(run("--dry-run", "--env", env).out).toEqual([
        `wrangler d1 migrations apply DB --remote -c workers/hub/wrangler.toml --env ${env}`,
        `wrangler deploy -c workers/hub/wrangler.toml --env ${env}`,
        `wrangler deploy -c wrangler.toml --env ${env}`,
      ]);
      expect(deployPlan(env).map(formatCommand)).toEqual(run("--dry-run", `--env=${env}`).out);
    }
  });

  it("refuses an unknown environment or option before running anything", () => {
    const unknownEnv = run("--dry-run", "--env", "prod");
    expect(unknownEnv.code).toBe(2);
    expect(unknownEnv.out).toEqual([]);
    expect(unknownEnv.err.join("\n")).toMatch(/unknown environment "prod"/);
    const unknownOption = run("--dryrun");
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.out).toEqual([]);
  });

  it("works as the npm script: node scripts/deploy.ts --dry-run --env staging", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, "scripts/deploy.ts"), "--dry-run", "--env", "staging"], { cwd: root });
    expect(stdout.trim().split("\n")).toEqual(deployPlan("staging").map(formatCommand));
  });
});
