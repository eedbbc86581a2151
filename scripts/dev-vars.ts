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
 * Makes sure the local secrets exist: the hub's admin token and directory key in
 * workers/hub/.dev.vars (generated at random on first start) and the same directory key in the
 * edge's .dev.vars. Returns the hub's values.
 */
export function ensureLocalSecrets(hubFile: string, edgeFile: string): { adminToken: string; directoryKey: string; created: string[] } {
  const created: string[] = [];
  const hub = readDevVars(hubFile);
  let hubChanged = false;
  for (const name of ["ADMIN_TOKEN", "DIRECTORY_KEY"]) {
    if (!hub.get(name)) {
      hub.set(name, randomSecret());
      created.push(`${name} (hub)`);
      hubChanged = true;
    }
  }
  if (hubChanged) writeDevVars(hubFile, hub, "Local secrets for the hub worker (npm start). Not used in production: use `wrangler secret put`.");
  const edge = readDevVars(edgeFile);
  if (edge.get("DIRECTORY_KEY") !== hub.get("DIRECTORY_KEY")) {
    // The edge must hash recipients with the hub's key, or every recipient would look unknown.
    edge.set("DIRECTORY_KEY", hub.get("DIRECTORY_KEY")!);
    writeDevVars(edgeFile, edge, "Local secrets for the edge worker (npm start). DIRECTORY_KEY must equal the hub's.");
    created.push("DIRECTORY_KEY (edge)");
  }
  return { adminToken: hub.get("ADMIN_TOKEN")!, directoryKey: hub.get("DIRECTORY_KEY")!, created };
}
