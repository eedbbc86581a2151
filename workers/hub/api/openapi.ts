import { createRoute, OpenAPIHono, z, type RouteConfig } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { readBounded, TooLargeError } from "../../../shared/bytes.ts";
import type { HubEnv } from "../app.ts";
import { maskPath } from "../auth/redact.ts";
import { type Role, roleAllows } from "../auth/roles.ts";
import { ApiError } from "./errors.ts";
import { hubLog } from "../../../shared/log.ts";

export { type Role, ROLES } from "../auth/roles.ts";

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

/** The role a route needs, as the route walk and the OpenAPI document read it. */
export const ROLE_EXTENSION = "x-portcullis-role";

/**
 * Checks that the request's token carries `role` (or a higher one). The token itself is checked
 * by the middleware in front of /api/v1, which sets the role; without one nothing is allowed.
 */
export function requireRole(role: Role): MiddlewareHandler<HubEnv> {
  return async (c, next) => {
    const granted = c.get("role");
    // Fails closed: a router mounted where no token middleware runs in front of it allows nothing.
    if (granted === undefined) throw new ApiError(401, "unauthorized", "No token was checked for this request: send Authorization: Bearer <token>.");
    if (!roleAllows(granted, role)) {
      hubLog(c.env.HUB_ID).warn("api_forbidden", { token: c.get("principal")?.id ?? null, method: c.req.method, path: maskPath(c.req.path), needs: role });
      throw new ApiError(403, "forbidden", `This needs the ${role} role; the token has ${granted}.`);
    }
    await next();
  };
}

/** A route definition with the role it needs (enforced, and recorded in the OpenAPI document). */
export function route<R extends RouteConfig>(role: Role, config: R): R & { [ROLE_EXTENSION]: Role } {
  return createRoute({
    ...config,
    description: [config.description, `Needs a token with the **${role}** role (or higher).`].filter(Boolean).join("\n\n"),
    security: [{ bearer: [] }],
    middleware: [requireRole(role), ...(config.middleware === undefined ? [] : [config.middleware].flat())],
    [ROLE_EXTENSION]: role,
  } as R & { [ROLE_EXTENSION]: Role });
}

/**
 * The `{id}` path parameter of a row id: digits only (400 otherwise), handed to the handler as a number.
 *
 * @example
 * request: { params: idParams("message", "The message's id.") } // c.req.valid("param").id: number
 */
export function idParams(what: string, description: string) {
  return z.object({
    id: z
      .string()
      .regex(/^\d{1,15}$/, `${what} id must be a positive integer`)
      .transform(Number)
      .openapi({ param: { name: "id", in: "path" }, example: "1", description }),
  });
}

/** The error body every route answers with. */
export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).openapi("Error");

/** A JSON response entry for `responses`. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

/** An error response entry for `responses`, for the statuses ERRORS does not cover. */
export function failure(description: string) {
  return json(ErrorBody, description);
}

/** The standard error responses, to spread into `responses`. */
export const ERRORS = {
  400: json(ErrorBody, "Invalid input"),
  401: json(ErrorBody, "Missing or invalid token"),
  403: json(ErrorBody, "The token's role does not allow this"),
  404: json(ErrorBody, "Not found"),
} as const;

/** A response without a body (204). */
export const NO_CONTENT = { description: "Done; no body" } as const;

/** A router whose validation failures answer with the standard 400 error body. */
export function router(): OpenAPIHono<HubEnv> {
  return new OpenAPIHono<HubEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issue = result.error.issues[0];
        const where = issue === undefined ? "" : issue.path.join(".");
        const message = issue?.message ?? "invalid input";
        // Parameter schemas carry whole sentences that already name the parameter ("limit must be …").
        const named = where === "" || new RegExp(`\\b${where.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`).test(message);
        throw new ApiError(400, "bad_request", named ? message : `${where}: ${message}`);
      }
    },
  });
}

/**
 * A JSON request body that the handler reads itself, with {@link readJson}: it is documented from
 * `schema` (registered as a component named `name`), but no validator runs before the handler.
 * The admin API has always taken JSON whatever Content-Type a client sends (curl's `-d` says form
 * data), with each route's own size limit and error codes; a validator in front would answer 415
 * or buffer bodies of any size first.
 */
export function documentedJson(r: OpenAPIHono<HubEnv>, name: string, schema: z.ZodType, description: string, required = true) {
  r.openAPIRegistry.register(name, schema);
  return { content: { "application/json": { schema: { $ref: `#/components/schemas/${name}` } } }, description, required };
}

export interface ReadJsonOptions {
  /** Largest body taken (bytes); larger ones get 413. */
  maxBytes: number;
  /** The error code for a body that parses but does not fit the schema. */
  invalidCode?: string;
  /** The 400 message for a body that is not JSON. */
  notJson: string;
}

/** The first problems of a failed parse, as one line. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((i) => `${i.path.join(".") || "body"}: ${i.message}`)
    .join("; ");
}

/**
 * Reads and checks the JSON body of a {@link documentedJson} route: 413 past `maxBytes`, 400 for
 * text that is not JSON, 400 (`invalidCode`) for JSON that does not fit `schema`. An empty body
 * reads as undefined when `schema` accepts undefined.
 */
export async function readJson<T extends z.ZodType>(c: Context<HubEnv>, schema: T, options: ReadJsonOptions): Promise<z.output<T>> {
  const tooLarge = () => new ApiError(413, "too_large", `This body is at most ${options.maxBytes} bytes.`);
  if (Number(c.req.header("content-length")) > options.maxBytes) throw tooLarge();
  let bytes: Uint8Array = new Uint8Array(0);
  try {
    if (c.req.raw.body !== null) bytes = await readBounded(c.req.raw.body, options.maxBytes);
  } catch (err) {
    throw err instanceof TooLargeError ? tooLarge() : err;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError(400, "bad_request", options.notJson);
  }
  let value: unknown = undefined;
  if (text.trim() !== "") {
    try {
      value = JSON.parse(text);
    } catch {
      throw new ApiError(400, "bad_request", options.notJson);
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ApiError(400, options.invalidCode ?? "bad_request", describeIssues(parsed.error));
  return parsed.data;
}
