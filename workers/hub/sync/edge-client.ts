import { httpEdgeDirectory } from "../../../shared/directory/publish-http.ts";
import type { EdgeControlApi } from "../../../shared/directory/publish-api.ts";
import type { EdgeRecord } from "../db/edges.ts";

/** The edge is registered in a way this hub cannot use (unknown binding, unsupported transport). */
export class EdgeUnreachableError extends Error {
  override name = "EdgeUnreachableError";
}

/** Names of this hub's service bindings that lead to an edge's EdgeDirectory entrypoint. */
export function edgeBindingNames(env: Env): string[] {
  return Object.keys(env).filter((name) => /^EDGE(_[A-Z0-9_]+)?$/.test(name));
}

/**
 * A URL this hub may sync an edge through: HTTPS, or plain HTTP to this machine (local stacks).
 * Returns the reason it is not, or null.
 */
export function edgeUrlProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "url must be an absolute URL";
  }
  const local = url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) return "url must use https (http only for localhost)";
  if (url.username !== "" || url.password !== "") return "url must not carry credentials";
  return null;
}

/**
 * How the hub talks to one registered edge. `binding`: a service binding (RPC) named in the hub's
 * wrangler config, which must be called EDGE or EDGE_<SOMETHING>. `https`: signed requests to the
 * edge's URL, with the SYNC_SIGNING_KEY both share.
 */
export function edgeClient(env: Env, edge: EdgeRecord): EdgeControlApi {
  if (edge.transport === "binding") {
    const name = edge.binding ?? "";
    if (!edgeBindingNames(env).includes(name)) throw new EdgeUnreachableError(`edge ${edge.id}: this hub has no service binding named ${name}`);
    // Service bindings speak the shared contract (typed here, since each worker's Env is generated alone).
    return (env as unknown as Record<string, unknown>)[name] as EdgeControlApi;
  }
  const problem = edgeUrlProblem(edge.url ?? "");
  if (problem !== null) throw new EdgeUnreachableError(`edge ${edge.id}: ${problem}`);
  return httpEdgeDirectory(edge.url!, env.SYNC_SIGNING_KEY);
}
