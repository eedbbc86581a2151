import type { EdgeDirectoryApi } from "../../../shared/directory/publish-api.ts";
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
 * How the hub talks to one registered edge. `binding`: a service binding (RPC) named in the hub's
 * wrangler config, which must be called EDGE or EDGE_<SOMETHING>.
 */
export function edgeClient(env: Env, edge: EdgeRecord): EdgeDirectoryApi {
  if (edge.transport === "binding") {
    const name = edge.binding ?? "";
    if (!edgeBindingNames(env).includes(name)) throw new EdgeUnreachableError(`edge ${edge.id}: this hub has no service binding named ${name}`);
    // Service bindings speak the shared contract (typed here, since each worker's Env is generated alone).
    return (env as unknown as Record<string, unknown>)[name] as EdgeDirectoryApi;
  }
  throw new EdgeUnreachableError(`edge ${edge.id}: transport ${edge.transport} is not available on this hub`);
}
