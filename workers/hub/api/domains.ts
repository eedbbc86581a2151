import { z } from "@hono/zod-openapi";
import { domainOf, normaliseAddress, normaliseDomain } from "../../../shared/directory/address.ts";
import { createDomain, deleteDomain, getDomain, getDomainRoute, listDomains } from "../db/domains.ts";
import { MAX_DOMAIN_BODY_BYTES } from "../onward/limits.ts";
import { type Route, type RouteInput, routeInput } from "../onward/route.ts";
import { requestSync } from "../sync/trigger.ts";
import { noteChange } from "./audit.ts";
import { ApiError } from "./errors.ts";
import { documentedJson, ERRORS, failure, json, NO_CONTENT, readJson, route, router } from "./openapi.ts";
import { decodeStringCursor, encodeStringCursor, NextCursor, PageQuery } from "./pagination.ts";

export const domains = router();

/** A route as the API shows it: a webhook's secret is write-only. */
export const PublicRouteSchema = z
  .discriminatedUnion("type", [
    z.object({ type: z.literal("mailbox") }),
    z.object({ type: z.literal("webhook"), url: z.string(), hasSecret: z.literal(true) }),
    z.object({ type: z.literal("forward"), address: z.string() }),
  ])
  .openapi("Route", { description: "Where the domain's mail goes once stored: the mailbox alone, a signed webhook POST, or a forward." });

const Domain = z
  .object({
    name: z.string().openapi({ example: "example.com" }),
    createdAt: z.string().openapi({ format: "date-time" }),
    recipients: z.number().int().openapi({ description: "Recipients whose primary address is in this domain." }),
    route: PublicRouteSchema,
  })
  .openapi("Domain");

const DomainList = z.object({ items: z.array(Domain), nextCursor: NextCursor }).openapi("DomainList");

const DomainParams = z.object({
  domain: z
    .string()
    .openapi({ param: { name: "domain", in: "path" }, example: "example.com", description: "A domain name (any case, a trailing dot is ignored)." }),
});

const DomainBody = z
  .strictObject({ route: routeInput.optional() })
  .optional()
  .openapi({
    description: "Optional. Without a body an existing domain keeps its route and a new one gets the mailbox.",
    example: { route: { type: "webhook", url: "https://mail.example.com/inbound", secret: "a-long-random-shared-secret" } },
  });

function domainParam(raw: string): string {
  const name = normaliseDomain(raw);
  if (name === null) throw new ApiError(400, "bad_request", "not a valid domain name");
  return name;
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

domains.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: ["Domains"],
    summary: "List accepted domains",
    description: "Accepted domains in name order, with their recipient counts and routes.",
    request: { query: PageQuery },
    responses: { 200: json(DomainList, "A page of domains"), ...ERRORS },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const items = await listDomains(c.env.DB, limit, decodeStringCursor(cursor));
    const last = items[items.length - 1];
    return c.json({ items, nextCursor: items.length === limit && last !== undefined ? encodeStringCursor(last.name) : null }, 200);
  },
);

domains.openapi(
  route("read-only", {
    method: "get",
    path: "/{domain}",
    tags: ["Domains"],
    summary: "Show an accepted domain",
    description: "One accepted domain with its route (a webhook secret is never shown, only `hasSecret: true`).",
    request: { params: DomainParams },
    responses: { 200: json(Domain, "The domain"), ...ERRORS },
  }),
  async (c) => {
    const domain = await getDomain(c.env.DB, domainParam(c.req.valid("param").domain));
    if (domain === null) throw new ApiError(404, "not_found", "No such domain.");
    return c.json(domain, 200);
  },
);

domains.openapi(
  route("admin", {
    method: "put",
    path: "/{domain}",
    tags: ["Domains"],
    summary: "Accept a domain, or set its route",
    description:
      "Accepts mail for a domain: 201 when added, 200 when it already was. An optional body sets where its mail goes once stored: " +
      '`{"type":"mailbox"}`, `{"type":"webhook","url","secret"}` (leave out `secret` to keep the current one) or `{"type":"forward","address"}`.',
    request: { params: DomainParams, body: documentedJson(domains, "DomainBody", DomainBody, "The domain's route", false) },
    responses: {
      200: json(Domain, "The domain was already accepted"),
      201: json(Domain, "The domain is accepted now"),
      ...ERRORS,
      413: failure("The body is too large"),
    },
  }),
  async (c) => {
    const name = domainParam(c.req.valid("param").domain);
    const body = await readJson(c, DomainBody, {
      maxBytes: MAX_DOMAIN_BODY_BYTES,
      notJson: 'The body must be JSON: {"route": {…}}.',
      invalidCode: "invalid_route",
    });
    const route = body?.route === undefined ? undefined : await resolveRoute(c.env, name, body.route);
    const { created, domain } = await createDomain(c.env.DB, name, route);
    // The route is the hub's own business: edges only learn that the domain is accepted.
    if (created) requestSync(c.env, c.executionCtx);
    noteChange(c, `${created ? "accepted domain" : "updated domain"} ${name}${route === undefined ? "" : ` (route ${route.type})`}`, name);
    return c.json(domain, created ? 201 : 200);
  },
);

domains.openapi(
  route("admin", {
    method: "delete",
    path: "/{domain}",
    tags: ["Domains"],
    summary: "Stop accepting a domain",
    description: "Stops accepting mail for a domain; its recipients and their addresses go with it.",
    request: { params: DomainParams },
    responses: { 204: NO_CONTENT, ...ERRORS },
  }),
  async (c) => {
    const name = domainParam(c.req.valid("param").domain);
    if (!(await deleteDomain(c.env.DB, name))) throw new ApiError(404, "not_found", "No such domain.");
    requestSync(c.env, c.executionCtx);
    noteChange(c, `deleted domain ${name} with its recipients`, name);
    return c.body(null, 204);
  },
);
