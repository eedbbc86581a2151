import type { MiddlewareHandler } from "hono";
import { verifyWithJwks } from "hono/jwt";
import type { HonoJsonWebKey } from "hono/utils/jwt/jws";
import { readBounded } from "../../../shared/bytes.ts";
import { withTimeout } from "../../../shared/timeout.ts";
import { ApiError } from "../api/errors.ts";
import type { HubEnv } from "../app.ts";
import { ACCESS_KEYS_FETCH_TIMEOUT_MS, ACCESS_KEYS_MIN_REFRESH_MS, ACCESS_KEYS_TTL_MS, MAX_ACCESS_JWT_CHARS, MAX_ACCESS_KEYS_BYTES } from "./limits.ts";
import { hubLog, type Logger } from "../../../shared/log.ts";

/**
 * Cloudflare Access in front of the admin API and the dashboard (optional). When the hub's vars
 * ACCESS_TEAM_DOMAIN and ACCESS_AUD are set, every request to those paths must carry the
 * `Cf-Access-Jwt-Assertion` header Access adds once it has let a user (or a service token) in: an
 * RS256 JWT from `https://<team>.cloudflareaccess.com`, for the application's audience tag. The
 * check here is what makes Access binding: a request that reaches the worker some other way (the
 * workers.dev URL, a route Access does not cover) has no valid assertion and is refused.
 */

/** The header Cloudflare Access adds to every request it lets through. */
export const ACCESS_JWT_HEADER = "Cf-Access-Jwt-Assertion";

export interface AccessSettings {
  /** `https://<team>.cloudflareaccess.com`: the issuer of the JWTs, and where the keys are. */
  issuer: string;
  audience: string;
}

/**
 * Access settings from the hub's vars; null when Access is off (both unset). Half a configuration
 * is refused: failing open there would silently drop the protection the operator asked for.
 */
export function accessSettings(env: { ACCESS_TEAM_DOMAIN?: string; ACCESS_AUD?: string }): AccessSettings | null {
  const team = (env.ACCESS_TEAM_DOMAIN ?? "").trim();
  const audience = (env.ACCESS_AUD ?? "").trim();
  if (team === "" && audience === "") return null;
  if (team === "" || audience === "") {
    throw new ApiError(503, "not_configured", "Cloudflare Access is half configured: set both ACCESS_TEAM_DOMAIN and ACCESS_AUD, or neither.");
  }
  const name = team
    .replace(/^https?:\/\//i, "")
    .replace(/\/.*$/, "")
    .replace(/\.cloudflareaccess\.com$/i, "")
    .toLowerCase();
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
    throw new ApiError(503, "not_configured", "ACCESS_TEAM_DOMAIN must be your team name or <team>.cloudflareaccess.com.");
  }
  return { issuer: `https://${name}.cloudflareaccess.com`, audience };
}

/** Where the signing keys of an Access team come from; tests give their own. */
export type AccessKeyFetcher = (certsUrl: string) => Promise<HonoJsonWebKey[]>;

/** Fetches an Access team's certs document (`{"keys": [JWK…]}`), bounded in time and size. */
export const fetchAccessKeys: AccessKeyFetcher = async (certsUrl) => {
  const res = await withTimeout(fetch(certsUrl, { headers: { accept: "application/json" } }), ACCESS_KEYS_FETCH_TIMEOUT_MS, "Access keys did not arrive");
  if (!res.ok || res.body === null) throw new Error(`Access keys: HTTP ${res.status}`);
  const doc = JSON.parse(new TextDecoder().decode(await readBounded(res.body, MAX_ACCESS_KEYS_BYTES))) as { keys?: unknown };
  if (!Array.isArray(doc.keys)) throw new Error("Access keys: no keys array");
  return doc.keys.filter((k): k is HonoJsonWebKey => typeof k === "object" && k !== null && typeof (k as { kid?: unknown }).kid === "string");
};

/**
 * The signing keys of each Access team, per isolate: fetched when first needed, again after
 * ACCESS_KEYS_TTL_MS, and early when a token names a key id not seen yet (a rotation) — but never
 * more often than ACCESS_KEYS_MIN_REFRESH_MS. When a fetch fails, keys already held stay in use.
 */
export class AccessKeyCache {
  readonly #fetch: AccessKeyFetcher;
  readonly #teams = new Map<string, { keys: HonoJsonWebKey[]; fetchedAt: number }>();

  constructor(fetcher: AccessKeyFetcher) {
    this.#fetch = fetcher;
  }

  async keysFor(issuer: string, kid: string | undefined, now: number, log: Logger): Promise<HonoJsonWebKey[]> {
    const held = this.#teams.get(issuer);
    const known = held !== undefined && held.keys.some((k) => k.kid === kid);
    const stale = held === undefined || now - held.fetchedAt >= ACCESS_KEYS_TTL_MS;
    const mayRefresh = held === undefined || now - held.fetchedAt >= ACCESS_KEYS_MIN_REFRESH_MS;
    if (!(stale || (!known && mayRefresh))) return held.keys;
    try {
      const keys = await this.#fetch(`${issuer}/cdn-cgi/access/certs`);
      this.#teams.set(issuer, { keys, fetchedAt: now });
      return keys;
    } catch (err) {
      log.error("access_keys_failed", { issuer, error: String(err) });
      if (held === undefined) throw new ApiError(503, "access_unavailable", "The Cloudflare Access signing keys could not be fetched; try again.");
      // Try again at the next minimum interval rather than on every request.
      this.#teams.set(issuer, { keys: held.keys, fetchedAt: now - ACCESS_KEYS_TTL_MS + ACCESS_KEYS_MIN_REFRESH_MS });
      return held.keys;
    }
  }
}

/** Who Access let in: a user's email, or a service token's client id. */
export interface AccessIdentity {
  identity: string;
}

function denied(message: string): ApiError {
  return new ApiError(403, "access_denied", message);
}

function kidOf(jwt: string): string | undefined {
  try {
    const header = JSON.parse(atob(jwt.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/"))) as { kid?: unknown };
    return typeof header.kid === "string" ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

/** Verifies an Access JWT: RS256 under one of the team's keys, this issuer and audience, not expired. Refusals and key fetch failures go to `log`. */
export async function verifyAccessJwt(
  jwt: string,
  settings: AccessSettings,
  keys: AccessKeyCache,
  now = Date.now(),
  log: Logger = hubLog(""),
): Promise<AccessIdentity> {
  if (jwt.length > MAX_ACCESS_JWT_CHARS) throw denied("The Cloudflare Access assertion is not valid.");
  const verifyKeys = await keys.keysFor(settings.issuer, kidOf(jwt), now, log);
  let payload: Record<string, unknown>;
  try {
    payload = await verifyWithJwks(jwt, {
      keys: verifyKeys,
      allowedAlgorithms: ["RS256"],
      verification: { iss: settings.issuer, aud: settings.audience, exp: true, nbf: true },
    });
  } catch (err) {
    log.warn("access_denied", { reason: err instanceof Error ? err.name : "invalid" });
    throw denied("The Cloudflare Access assertion is not valid.");
  }
  // Access always sets an expiry; a token without one is not Access's.
  if (typeof payload.exp !== "number") throw denied("The Cloudflare Access assertion is not valid.");
  const identity = [payload.email, payload.common_name, payload.sub].find((v): v is string => typeof v === "string" && v !== "");
  return { identity: identity ?? "unknown" };
}

/**
 * Middleware requiring a valid Access assertion when Access is configured (a no-op otherwise).
 * Puts who Access let in on the context as `accessIdentity`, for the audit log.
 */
export function requireAccess(keys = new AccessKeyCache(fetchAccessKeys)): MiddlewareHandler<HubEnv> {
  return async (c, next) => {
    const settings = accessSettings(c.env);
    if (settings === null) return next();
    const jwt = c.req.header(ACCESS_JWT_HEADER);
    if (jwt === undefined || jwt === "") throw denied(`This hub is behind Cloudflare Access: sign in through Access (no ${ACCESS_JWT_HEADER} header).`);
    c.set("accessIdentity", (await verifyAccessJwt(jwt, settings, keys, Date.now(), hubLog(c.env.HUB_ID))).identity);
    await next();
  };
}
