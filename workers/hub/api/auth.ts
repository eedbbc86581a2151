import type { MiddlewareHandler } from "hono";
import type { HubEnv } from "../app.ts";
import { ApiError } from "./errors.ts";

const encoder = new TextEncoder();

/**
 * Constant-time token comparison: both sides are hashed first, so neither content nor length
 * leaks through timing.
 */
async function tokensEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([crypto.subtle.digest("SHA-256", encoder.encode(given)), crypto.subtle.digest("SHA-256", encoder.encode(expected))]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** Requires `Authorization: Bearer <ADMIN_TOKEN>`. */
export const requireToken: MiddlewareHandler<HubEnv> = async (c, next) => {
  const expected = c.env.ADMIN_TOKEN;
  if (typeof expected !== "string" || expected.length === 0) {
    throw new ApiError(503, "not_configured", "The admin API is disabled: set the ADMIN_TOKEN secret.");
  }
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null) {
    c.header("WWW-Authenticate", 'Bearer realm="portcullis"');
    throw new ApiError(401, "unauthorized", "Missing bearer token: send Authorization: Bearer <token>.");
  }
  if (!(await tokensEqual(match[1]!, expected))) {
    c.header("WWW-Authenticate", 'Bearer realm="portcullis", error="invalid_token"');
    throw new ApiError(401, "unauthorized", "Invalid token.");
  }
  await next();
};
