import type { Context, MiddlewareHandler } from "hono";
import type { HubEnv } from "../app.ts";
import { LAST_USED_WRITE_INTERVAL_MS } from "../auth/limits.ts";
import type { Role } from "../auth/roles.ts";
import { BOOTSTRAP_ID, findTokenByHash, sameSecret, TOKEN_PREFIX, tokenHash, touchToken } from "../auth/tokens.ts";
import { ApiError } from "./errors.ts";
import { hubLog } from "../../../shared/log.ts";

/** Who is calling: the token (never the token itself, only its id and name) and its role. */
export interface Principal {
  id: string;
  name: string;
  role: Role;
}

/**
 * When this isolate last wrote the bootstrap token's last-used time. Stored tokens carry theirs in
 * the row authentication reads anyway; the bootstrap token is checked without reading D1.
 */
let bootstrapTouchedAt = 0;

function unauthorized(c: Context<HubEnv>, message: string, error?: "invalid_token"): ApiError {
  c.header("WWW-Authenticate", error === undefined ? 'Bearer realm="portcullis"' : `Bearer realm="portcullis", error="${error}"`);
  return new ApiError(401, "unauthorized", message);
}

/**
 * The token a request presents, checked: the ADMIN_TOKEN secret (the bootstrap admin token,
 * compared in constant time), or a stored token found by its SHA-256 — the lookup by hash reveals
 * nothing about the token through timing, and the token itself is never stored.
 */
async function authenticate(c: Context<HubEnv>, token: string, now: number): Promise<{ principal: Principal; lastUsedAt: string | null }> {
  const bootstrap = c.env.ADMIN_TOKEN;
  if (typeof bootstrap === "string" && bootstrap.length > 0 && (await sameSecret(token, bootstrap))) {
    return { principal: { id: BOOTSTRAP_ID, name: BOOTSTRAP_ID, role: "admin" }, lastUsedAt: null };
  }
  if (!token.startsWith(TOKEN_PREFIX)) throw unauthorized(c, "Invalid token.", "invalid_token");
  const hash = await tokenHash(token);
  let stored;
  try {
    stored = await findTokenByHash(c.env.DB, hash);
  } catch (err) {
    hubLog(c.env.HUB_ID).error("token_lookup_failed", { error: String(err) });
    throw new ApiError(503, "unavailable", "Tokens cannot be checked right now; try again.");
  }
  if (stored === null || !(await sameSecret(stored.hash, hash))) throw unauthorized(c, "Invalid token.", "invalid_token");
  const { record } = stored;
  if (record.revoked) throw unauthorized(c, "This token has been revoked.", "invalid_token");
  if (record.expiresAt !== null && Date.parse(record.expiresAt) <= now) throw unauthorized(c, "This token has expired.", "invalid_token");
  return { principal: { id: record.id, name: record.name, role: record.role }, lastUsedAt: record.lastUsedAt };
}

/** Writes a token's last-used time when the one stored is older than LAST_USED_WRITE_INTERVAL_MS; in the background, never failing the request. */
function touch(c: Context<HubEnv>, principal: Principal, lastUsedAt: string | null, now: number): Promise<void> | undefined {
  const threshold = now - LAST_USED_WRITE_INTERVAL_MS;
  if (principal.id === BOOTSTRAP_ID) {
    if (bootstrapTouchedAt > threshold) return undefined;
    bootstrapTouchedAt = now;
  } else if (lastUsedAt !== null && Date.parse(lastUsedAt) > threshold) {
    return undefined;
  }
  const write = touchToken(c.env.DB, principal.id, new Date(now).toISOString(), new Date(threshold).toISOString()).catch((err: unknown) =>
    hubLog(c.env.HUB_ID).error("token_touch_failed", { token: principal.id, error: String(err) }),
  );
  // In-process callers (the dashboard checks a token through this middleware) may have no execution context.
  let ctx: { waitUntil(promise: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    ctx = undefined;
  }
  if (ctx === undefined) return write;
  ctx.waitUntil(write);
  return undefined;
}

/**
 * Requires `Authorization: Bearer <token>` and puts the caller on the context: `principal` (token
 * id and name, for the audit log) and `role` (what `requireRole` in each route checks).
 */
export const requireToken: MiddlewareHandler<HubEnv> = async (c, next) => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
  if (match === null) throw unauthorized(c, "Missing bearer token: send Authorization: Bearer <token>.");
  const now = Date.now();
  const { principal, lastUsedAt } = await authenticate(c, match[1]!, now);
  c.set("principal", principal);
  c.set("role", principal.role);
  await touch(c, principal, lastUsedAt, now);
  await next();
};
