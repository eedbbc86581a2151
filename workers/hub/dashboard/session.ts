import type { Context } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import type { CookieOptions } from "hono/utils/cookie";
import { isRole, type Role } from "../auth/roles.ts";
import { DashboardError } from "./errors.ts";
import { LOGIN_FORM_TTL_SECONDS, SESSION_TTL_SECONDS } from "./limits.ts";

/**
 * Dashboard sessions: a signed cookie (HMAC-SHA-256) holding a random session id, the role the
 * token was granted and an expiry. The token itself never enters the cookie, in clear or
 * otherwise. The signing key is derived from ADMIN_TOKEN, so rotating that secret ends every
 * session. Each session has its own CSRF token, an HMAC of its id; a login form has one too,
 * bound to a short-lived nonce cookie, so a login cannot be forged from another site either.
 */
export interface Session {
  /** Random, base64url; what the CSRF token is bound to. */
  sid: string;
  role: Role;
  /** The token's id and name (never the token): who acted, for the logs and the quarantine's stamps. */
  tid: string;
  name: string;
  /** Epoch seconds. */
  exp: number;
}

const SESSION_COOKIE = "portcullis-session";
const LOGIN_COOKIE = "portcullis-login";
const encoder = new TextEncoder();

let cachedKey: { secret: string; key: Promise<ArrayBuffer> } | null = null;

/** The key sessions and CSRF tokens are signed with: HKDF-SHA-256 of ADMIN_TOKEN, for this purpose only. */
export function sessionKey(env: Env): Promise<ArrayBuffer> {
  const secret = env.ADMIN_TOKEN;
  if (typeof secret !== "string" || secret.length === 0) throw new DashboardError(503, "The dashboard is disabled: set the ADMIN_TOKEN secret.");
  if (cachedKey?.secret !== secret) {
    const key = crypto.subtle
      .importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveBits"])
      .then((ikm) =>
        crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: encoder.encode("portcullis-dashboard"), info: encoder.encode("session v1") }, ikm, 256),
      );
    cachedKey = { secret, key };
  }
  return cachedKey.key;
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(18)));
}

async function hmac(key: ArrayBuffer, text: string): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, encoder.encode(text)));
}

/** Compares two strings in constant time (both are hashed first, so lengths do not leak either). */
async function sameText(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([crypto.subtle.digest("SHA-256", encoder.encode(a)), crypto.subtle.digest("SHA-256", encoder.encode(b))]);
  return crypto.subtle.timingSafeEqual(x, y);
}

/**
 * Whether cookies must be Secure: always, except over plain HTTP to this machine (wrangler dev).
 * Plain HTTP anywhere else is refused rather than given a cookie that travels in clear.
 */
function secureCookies(c: Context): boolean {
  const url = new URL(c.req.url);
  if (url.protocol === "https:") return true;
  if (url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]") return false;
  throw new DashboardError(400, "The dashboard needs HTTPS.");
}

/** Cookie attributes: HttpOnly, SameSite=Strict, Path=/, and Secure with the __Host- prefix unless on http://localhost. */
function cookieOptions(c: Context, maxAge: number): CookieOptions {
  const secure = secureCookies(c);
  return { httpOnly: true, sameSite: "Strict", path: "/", maxAge, ...(secure ? { secure: true, prefix: "host" } : {}) };
}

function prefix(c: Context): "host" | undefined {
  return secureCookies(c) ? "host" : undefined;
}

/** The cookie's value: base64url JSON (hono appends the signature). */
export function encodeSession(session: Session): string {
  return base64url(encoder.encode(JSON.stringify(session)));
}

function decodeSession(value: string): Session | null {
  try {
    const json = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(value.replace(/-/g, "+").replace(/_/g, "/")), (ch) => ch.charCodeAt(0)))) as unknown;
    if (typeof json !== "object" || json === null) return null;
    const { sid, role, tid, name, exp } = json as Record<string, unknown>;
    if (typeof sid !== "string" || typeof tid !== "string" || typeof name !== "string" || typeof exp !== "number" || !isRole(role)) return null;
    return { sid, role, tid, name, exp };
  } catch {
    return null;
  }
}

/** The request's session, or null when there is none, its signature does not verify, or it expired. */
export async function readSession(c: Context): Promise<Session | null> {
  const value = await getSignedCookie(c, await sessionKey(c.env as Env), SESSION_COOKIE, prefix(c));
  if (typeof value !== "string") return null;
  const session = decodeSession(value);
  return session !== null && session.exp > Date.now() / 1000 ? session : null;
}

/** Starts a new session (a fresh id, so a session id can never be planted before login). */
export async function startSession(c: Context, who: { id: string; name: string; role: Role }): Promise<Session> {
  const session: Session = { sid: randomId(), role: who.role, tid: who.id, name: who.name, exp: Math.floor(Date.now() / 1000) + SESSION_TTL_SECONDS };
  await setSignedCookie(c, SESSION_COOKIE, encodeSession(session), await sessionKey(c.env as Env), cookieOptions(c, SESSION_TTL_SECONDS));
  return session;
}

export function endSession(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, cookieOptions(c, 0));
}

/** The CSRF token of a session (or of a login form's nonce): HMAC of its id, never stored. */
export async function csrfToken(env: Env, id: string): Promise<string> {
  return base64url(await hmac(await sessionKey(env), `csrf\n${id}`));
}

/** Whether a submitted CSRF token belongs to this session (or login nonce). */
export async function csrfValid(env: Env, id: string, given: unknown): Promise<boolean> {
  if (typeof given !== "string" || given.length === 0) return false;
  return sameText(given, await csrfToken(env, id));
}

/** Gives a login form its nonce (a signed, short-lived cookie) and returns the form's CSRF token. */
export async function startLoginForm(c: Context): Promise<string> {
  const nonce = randomId();
  const exp = Math.floor(Date.now() / 1000) + LOGIN_FORM_TTL_SECONDS;
  await setSignedCookie(c, LOGIN_COOKIE, `${nonce}~${exp}`, await sessionKey(c.env as Env), cookieOptions(c, LOGIN_FORM_TTL_SECONDS));
  return csrfToken(c.env as Env, `login\n${nonce}`);
}

/** Whether a submitted login form carries the CSRF token of this browser's unexpired login nonce. */
export async function loginFormValid(c: Context, given: unknown): Promise<boolean> {
  const value = await getSignedCookie(c, await sessionKey(c.env as Env), LOGIN_COOKIE, prefix(c));
  if (typeof value !== "string") return false;
  const [nonce, exp] = value.split("~");
  if (nonce === undefined || !(Number(exp) > Date.now() / 1000)) return false;
  return csrfValid(c.env as Env, `login\n${nonce}`, given);
}

export function endLoginForm(c: Context): void {
  deleteCookie(c, LOGIN_COOKIE, cookieOptions(c, 0));
}
