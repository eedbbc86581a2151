import { Hono } from "hono";
import type { HubEnv } from "../app.ts";
import { requireToken } from "../api/auth.ts";
import { onError } from "../api/errors.ts";
import { ROLES, type Role } from "../api/openapi.ts";
import { DashboardError } from "./errors.ts";
import { MAX_TOKEN_CHARS } from "./limits.ts";

/** Who a token is: its id and name (never the token) and its role. */
export interface TokenHolder {
  id: string;
  name: string;
  role: Role;
}

/**
 * The admin API's own token check, run in-process on a request that carries nothing but the token:
 * whatever `requireToken` accepts the dashboard accepts, and nothing else, with the principal it
 * puts on the context (a check without one is the ADMIN_TOKEN's: the bootstrap admin).
 */
const check = new Hono<HubEnv>();
check.onError(onError);
check.get("/", requireToken, (c) => {
  const principal = c.get("principal" as never) as Partial<TokenHolder> | undefined;
  return c.json({
    id: principal?.id ?? "bootstrap",
    name: principal?.name ?? "bootstrap",
    role: principal?.role ?? (c.get("role" as never) as Role | undefined) ?? "admin",
  });
});

/** Who an API token is, or null when the admin API would refuse it. */
export async function tokenHolder(env: Env, token: string): Promise<TokenHolder | null> {
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS || /\s/.test(token)) return null;
  const res = await check.request("/", { headers: { authorization: `Bearer ${token}` } }, env);
  if (res.status === 401 || res.status === 403) return null;
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new DashboardError(503, body?.error?.message ?? `The token could not be checked (${res.status}).`);
  }
  const holder = (await res.json()) as TokenHolder;
  return ROLES.includes(holder.role) && typeof holder.id === "string" && typeof holder.name === "string" ? holder : null;
}

/** Whether a session with role `granted` may do what needs `needed` (read-only < operator < admin). */
export function allows(granted: Role, needed: Role): boolean {
  return ROLES.indexOf(granted) >= ROLES.indexOf(needed);
}
