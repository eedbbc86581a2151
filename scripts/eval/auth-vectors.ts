import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..", "..");

export interface VectorReport {
  tests: number;
  passed: number;
  failed: string[];
}

/**
 * The DKIM, ARC and SPF vectors of corpora/auth (and the DMARC decisions) run where they must
 * pass — inside workerd, with a stub resolver and the vectors' fixed clock — through the
 * authentication test file, and counted from vitest's JSON report.
 */
export function authVectors(): VectorReport {
  const dir = mkdtempSync(path.join(tmpdir(), "portcullis-auth-"));
  const out = path.join(dir, "report.json");
  try {
    try {
      execFileSync(
        path.join(root, "node_modules", ".bin", "vitest"),
        ["run", "--project", "edge", "test/unit/shared/hygiene/authentication.test.ts", "--reporter=json", `--outputFile=${out}`],
        {
          cwd: root,
          stdio: "ignore",
          env: { ...process.env, PATH: `${path.join(root, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}` },
        },
      );
    } catch {
      // A failing vector makes vitest exit non-zero; the report says which.
    }
    const report = JSON.parse(readFileSync(out, "utf8")) as { testResults: { assertionResults: { fullName: string; status: string }[] }[] };
    const results = report.testResults.flatMap((f) => f.assertionResults);
    return {
      tests: results.length,
      passed: results.filter((r) => r.status === "passed").length,
      failed: results.filter((r) => r.status !== "passed").map((r) => r.fullName),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
