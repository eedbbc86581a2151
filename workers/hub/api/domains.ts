import { Hono } from "hono";
import { z } from "zod";
import { domainOf, normaliseAddress, normaliseDomain } from "../../../shared/directory/address.ts";
import type { HubEnv } from "../app.ts";
import { createDomain, deleteDomain, getDomain, getDomainRoute, listDomains } from "../db/domains.ts";
import { MAX_DOMAIN_BODY_BYTES } from "../onward/limits.ts";
import { type Route, type RouteInput, routeInput } from "../onward/route.ts";
import { requestSync } from "../sync/trigger.ts";
import { ApiError } from "./errors.ts";
import { decodeStringCursor, encodeStringCursor, pageLimit } from "./pagination.ts";

export const domains = new Hono<HubEnv>();

const domainBody = z.strictObject({ route: routeInput.optional() });

function domainParam(raw: string): string {
  const name = normaliseDomain(raw);
  if (name === null) throw new ApiError(400, "bad_request", "not a valid domain name");
  return name;
}

/** Reads the optional `{"route": …}` body of a PUT; undefined when there is none. */
function routeFromBody(text: string): RouteInput | undefined {
  if (text.trim() === "") return undefined;
  if (text.length > MAX_DOMAIN_BODY_BYTES) throw new ApiError(413, "too_large", `A domain body is at most ${MAX_DOMAIN_BODY_BYTES} bytes.`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError(400, "bad_request", 'The body must be JSON: {"route": {…}}.');
  }
  const parsed = domainBody.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 10).map((i) => `${i.path.join(".") || "body"}: ${i.message}`);
    throw new ApiError(400, "invalid_route", `The route is not valid: ${problems.join("; ")}`);
  }
  return parsed.data.route;
}

/**
 * Completes a route as written into one that can be stored: a webhook without a secret keeps the
 * domain's current one (it has to have one); a forward may not point back at an accepted domain,
 * where it would loop through the edge and this hub forever.
 */
async function resolveRoute(env: Env, domain: string, input: RouteInput): Promise<Route> {
  switch (input.type) {
    case "mailbox":
      return input;
    case "webhook": {
      if (input.secret !== undefined) return { type: "webhook", url: input.url, secret: input.secret };
      const current = await getDomainRoute(env.DB, domain);
      if (current?.type !== "webhook") throw new ApiError(400, "invalid_route", "route.secret: a webhook route needs a secret.");
      return { type: "webhook", url: input.url, secret: current.secret };
    }
    case "forward": {
      if (normaliseAddress(env.FORWARD_FROM) === null) {
        throw new ApiError(400, "not_configured", "Forward routes are disabled: set FORWARD_FROM to an address this hub may send from.");
      }
      const target = domainOf(input.address);
      if (target === domain || (await getDomain(env.DB, target)) !== null) {
        throw new ApiError(400, "invalid_route", "route.address: forwarding to an accepted domain would loop back through the edge.");
      }
      return input;
    }
  }
}

/** GET /api/v1/domains — accepted domains in name order, with their recipient counts and routes. */
domains.get("/", async (c) => {
  const limit = pageLimit(c.req.query("limit"));
  const items = await listDomains(c.env.DB, limit, decodeStringCursor(c.req.query("cursor")));
  const last = items[items.length - 1];
  return c.json({ items, nextCursor: items.length === limit && last !== undefined ? encodeStringCursor(last.name) : null });
});

/** GET /api/v1/domains/{domain} — one accepted domain with its route. */
domains.get("/:domain", async (c) => {
  const domain = await getDomain(c.env.DB, domainParam(c.req.param("domain")));
  if (domain === null) throw new ApiError(404, "not_found", "No such domain.");
  return c.json(domain);
});

/**
 * PUT /api/v1/domains/{domain} — accept mail for a domain: 201 when added, 200 when it already
 * was. An optional body `{"route": {…}}` sets where its mail goes once stored; without one, an
 * existing domain keeps its route.
 */
domains.put("/:domain", async (c) => {
  const name = domainParam(c.req.param("domain"));
  const input = routeFromBody(await c.req.text());
  const route = input === undefined ? undefined : await resolveRoute(c.env, name, input);
  const { created, domain } = await createDomain(c.env.DB, name, route);
  // The route is the hub's own business: edges only learn that the domain is accepted.
  if (created) requestSync(c.env, c.executionCtx);
  return c.json(domain, created ? 201 : 200);
});

/** DELETE /api/v1/domains/{domain} — stop accepting a domain; its recipients and addresses go with it. */
domains.delete("/:domain", async (c) => {
  if (!(await deleteDomain(c.env.DB, domainParam(c.req.param("domain"))))) throw new ApiError(404, "not_found", "No such domain.");
  requestSync(c.env, c.executionCtx);
  return c.body(null, 204);
});
