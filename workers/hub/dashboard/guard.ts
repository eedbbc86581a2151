import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { every } from "hono/combine";
import { NONCE, secureHeaders, type SecureHeadersVariables } from "hono/secure-headers";
import { type Role, roleAllows } from "../auth/roles.ts";
import { tokenStillValid } from "./auth.ts";
import { DashboardError } from "./errors.ts";
import { MAX_FORM_BYTES } from "./limits.ts";
import { csrfToken, csrfValid, readSession, type Session } from "./session.ts";

/** The dashboard's hono environment: the hub's bindings, and what the guards below leave for the handlers. */
export type DashboardEnv = {
  Bindings: Env;
  Variables: SecureHeadersVariables & {
    session: Session;
    /** The session's CSRF token, for the forms of the page. */
    csrf: string;
    /** The submitted form of a POST, after the origin and CSRF checks. */
    form: Record<string, string>;
  };
};

/**
 * Every dashboard response: a CSP that allows no script and only the page's own nonce'd style
 * element, no framing, no referrer, and no caching (pages show message metadata).
 */
export const pageHeaders: MiddlewareHandler<DashboardEnv> = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    styleSrc: [NONCE],
    imgSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
  xFrameOptions: "DENY",
  referrerPolicy: "no-referrer",
});

export const noStore: MiddlewareHandler<DashboardEnv> = async (c, next) => {
  await next();
  c.header("Cache-Control", "no-store");
};

/**
 * A state-changing request must come from the dashboard's own pages: its Origin is this origin,
 * or — where the browser sends `Origin: null`, as it does for a same-origin form under
 * `Referrer-Policy: no-referrer` — its `Sec-Fetch-Site` says same-origin. A request with neither
 * (not a browser form) is refused too.
 */
export const sameOrigin: MiddlewareHandler<DashboardEnv> = async (c, next) => {
  const origin = c.req.header("origin");
  const ok = origin !== undefined && origin !== "null" ? origin === new URL(c.req.url).origin : c.req.header("sec-fetch-site") === "same-origin";
  if (!ok) throw new DashboardError(403, "This form was not sent from the dashboard's own pages.");
  await next();
};

/** Reads a url-encoded or multipart form (text fields only), bounded in size. */
export const readForm: MiddlewareHandler<DashboardEnv> = bodyLimit({
  maxSize: MAX_FORM_BYTES,
  onError: () => {
    throw new DashboardError(413, "The form is too large.");
  },
});

/** The text fields of a posted form; anything but a form is refused. */
export async function readFormFields(c: Context<DashboardEnv>): Promise<Record<string, string>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) throw new DashboardError(400, "Expected a form.");
  const body = await c.req.parseBody();
  const form: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) if (typeof value === "string") form[name] = value;
  return form;
}

/**
 * The request's session, if its cookie verifies, it has not expired, and its token still stands
 * (revoking or expiring a token ends its sessions at once).
 */
export async function currentSession(c: Context<DashboardEnv>): Promise<Session | null> {
  const session = await readSession(c);
  return session !== null && (await tokenStillValid(c.env.DB, session)) ? session : null;
}

/**
 * A signed-in page: no session → to the login page (or 401 for a POST); a role below `role` → 403.
 * Leaves the session and its CSRF token on the context.
 */
export function signedIn(role: Role): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    const session = await currentSession(c);
    if (session === null) {
      if (c.req.method === "GET") {
        const url = new URL(c.req.url);
        return c.redirect(`/login?${new URLSearchParams({ next: url.pathname + url.search })}`, 303);
      }
      throw new DashboardError(401, "Your session has ended: sign in again.");
    }
    if (!roleAllows(session.role, role)) throw new DashboardError(403, `This needs the ${role} role; you are signed in as ${session.role}.`);
    c.set("session", session);
    c.set("csrf", await csrfToken(c.env, session.sid));
    await next();
  };
}

/** A form POST of a signed-in session: same origin, bounded, and carrying the session's CSRF token. */
export const checkedForm: MiddlewareHandler<DashboardEnv> = async (c, next) => {
  const form = await readFormFields(c);
  if (!(await csrfValid(c.env, c.var.session.sid, form._csrf)))
    throw new DashboardError(403, "The form's security token is missing or wrong: reload the page and try again.");
  c.set("form", form);
  await next();
};

/** The guards of a signed-in page (GET) that needs `role`. */
export function page(role: Role): MiddlewareHandler<DashboardEnv> {
  return every(pageHeaders, noStore, signedIn(role));
}

/** The guards of an action (a form POST) that needs `role`: same origin, a session with the role, and its CSRF token. */
export function action(role: Role): MiddlewareHandler<DashboardEnv> {
  return every(pageHeaders, noStore, sameOrigin, signedIn(role), readForm, checkedForm);
}
