import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** Reads KEY=value lines (comments and blanks ignored). */
export function readDevVars(file: string): Map<string, string> {
  const vars = new Map<string, string>();
  if (!existsSync(file)) return vars;
  for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m !== null) vars.set(m[1]!, m[2]!.replace(/^"(.*)"$/, "$1"));
  }
  return vars;
}

function writeDevVars(file: string, vars: Map<string, string>, header: string): void {
  const body = [...vars].map(([k, v]) => `${k}=${v}`).join("\n");
  writeFileSync(file, `# ${header}\n${body}\n`, { mode: 0o600 });
}

export const randomSecret = (): string => randomBytes(32).toString("hex");

/**
 * Makes sure the local secrets exist: the hub's admin token, directory key and EdgeSync signing
 * key in workers/hub/.dev.vars (generated at random on first start), and the same directory and
 * signing keys in the edge's .dev.vars. Returns the hub's values.
 */
export function ensureLocalSecrets(hubFile: string, edgeFile: string): { adminToken: string; directoryKey: string; created: string[] } {
  // Secrets the edge must share with the hub: recipient hashing and signed EdgeSync.
  const shared = ["DIRECTORY_KEY", "SYNC_SIGNING_KEY"];
  const created: string[] = [];
  const hub = readDevVars(hubFile);
  let hubChanged = false;
  for (const name of ["ADMIN_TOKEN", ...shared]) {
    if (!hub.get(name)) {
      hub.set(name, randomSecret());
      created.push(`${name} (hub)`);
      hubChanged = true;
    }
  }
  if (hubChanged) writeDevVars(hubFile, hub, "Local secrets for the hub worker (npm start). Not used in production: use `wrangler secret put`.");
  const edge = readDevVars(edgeFile);
  const stale = shared.filter((name) => edge.get(name) !== hub.get(name));
  if (stale.length > 0) {
    // The edge must hash recipients with the hub's key, or every recipient would look unknown.
    for (const name of stale) edge.set(name, hub.get(name)!);
    writeDevVars(edgeFile, edge, "Local secrets for the edge worker (npm start). They must equal the hub's.");
    created.push(...stale.map((name) => `${name} (edge)`));
  }
  return { adminToken: hub.get("ADMIN_TOKEN")!, directoryKey: hub.get("DIRECTORY_KEY")!, created };
}
