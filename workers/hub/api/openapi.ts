import { createRoute, OpenAPIHono, z, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { HubEnv } from "../app.ts";
import { ApiError } from "./errors.ts";

/**
 * How every admin route is declared, so the OpenAPI document (`/api/v1/openapi.json`) is generated
 * from the same definitions that validate requests, and every route states the role it needs.
 *
 *   read-only  GET anything
 *   operator   read-only + day-to-day actions (queue and quarantine actions, sync, onward retry)
 *   admin      operator + configuration (domains, recipients, policies, edges, hubs, tokens)
 *
 * @example
 * export const things = router();
 * things.openapi(
 *   route("read-only", { method: "get", path: "/", summary: "List things", responses: { 200: json(ThingList, "The things") } }),
 *   async (c) => c.json(await listThings(c.env.DB), 200),
 * );
 */
export type Role = "read-only" | "operator" | "admin";
export const ROLES: readonly Role[] = ["read-only", "operator", "admin"];

/** The role a route needs, as the route walk and the OpenAPI document read it. */
export const ROLE_EXTENSION = "x-portcullis-role";

/**
 * Checks that the request's token carries `role` (or a higher one). The token itself is checked
 * by the middleware in front of /api/v1; this only compares roles.
 */
export function requireRole(role: Role): MiddlewareHandler<HubEnv> {
  return async (c, next) => {
    const granted = (c.get("role" as never) as Role | undefined) ?? "admin";
    if (ROLES.indexOf(granted) < ROLES.indexOf(role)) {
      throw new ApiError(403, "forbidden", `This needs the ${role} role; the token has ${granted}.`);
    }
    await next();
  };
}

/** A route definition with the role it needs (enforced, and recorded in the OpenAPI document). */
export function route<R extends RouteConfig>(role: Role, config: R): R & { [ROLE_EXTENSION]: Role } {
  return createRoute({
    ...config,
    security: [{ bearer: [] }],
    middleware: [requireRole(role), ...(config.middleware === undefined ? [] : [config.middleware].flat())],
    [ROLE_EXTENSION]: role,
  } as R & { [ROLE_EXTENSION]: Role });
}

/** The error body every route answers with. */
export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).openapi("Error");

/** A JSON response entry for `responses`. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

/** The standard error responses, to spread into `responses`. */
export const ERRORS = {
  400: json(ErrorBody, "Invalid input"),
  401: json(ErrorBody, "Missing or invalid token"),
  403: json(ErrorBody, "The token's role does not allow this"),
  404: json(ErrorBody, "Not found"),
} as const;

/** A router whose validation failures answer with the standard 400 error body. */
export function router(): OpenAPIHono<HubEnv> {
  return new OpenAPIHono<HubEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issue = result.error.issues[0];
        const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
        throw new ApiError(400, "bad_request", `${where}${issue?.message ?? "invalid input"}`);
      }
    },
  });
}
