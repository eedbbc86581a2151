import { type ExecutionContext, Hono } from "hono";
import type { HubEnv } from "../app.ts";
import { type Principal, requireToken } from "../api/auth.ts";
import { onError } from "../api/errors.ts";
import { isRole } from "../auth/roles.ts";
import { BOOTSTRAP_ID, getToken } from "../auth/tokens.ts";
import { DashboardError } from "./errors.ts";
import { MAX_TOKEN_CHARS } from "./limits.ts";

/**
 * The admin API's own token check, run in-process on a request that carries nothing but the token:
 * whatever `requireToken` accepts the dashboard accepts, and nothing else, with the principal
 * (token id, name and role; never the token) it puts on the context.
 */
const check = new Hono<HubEnv>();
check.onError(onError);
check.get("/", requireToken, (c) => c.json(c.get("principal") ?? null));

/**
 * Who an API token is, or null when the admin API would refuse it. `ctx` is the request's own: the
 * check records the token's last use in the background, as it does for API requests.
 */
export async function tokenHolder(env: Env, ctx: ExecutionContext, token: string): Promise<Principal | null> {
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS || /\s/.test(token)) return null;
  const res = await check.request("/", { headers: { authorization: `Bearer ${token}` } }, env, ctx);
  if (res.status === 401 || res.status === 403) return null;
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new DashboardError(503, body?.error?.message ?? `The token could not be checked (${res.status}).`);
  }
  const holder = (await res.json()) as Principal | null;
  return holder !== null && isRole(holder.role) && typeof holder.id === "string" && typeof holder.name === "string" ? holder : null;
}

/**
 * Whether the token a session was started with still stands as it did: not revoked, not expired,
 * with the same role. The bootstrap token (ADMIN_TOKEN) is always an admin; rotating the secret
 * changes the session key, which ends its sessions anyway.
 */
export async function tokenStillValid(db: D1Database, session: { tid: string; role: Principal["role"] }, now = Date.now()): Promise<boolean> {
  if (session.tid === BOOTSTRAP_ID) return session.role === "admin";
  const record = await getToken(db, session.tid);
  return record !== null && !record.revoked && (record.expiresAt === null || Date.parse(record.expiresAt) > now) && record.role === session.role;
}
