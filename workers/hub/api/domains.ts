import { Hono } from "hono";
import { normaliseDomain } from "../../../shared/directory/address.ts";
import type { HubEnv } from "../app.ts";
import { createDomain, deleteDomain, listDomains } from "../db/domains.ts";
import { requestSync } from "../sync/trigger.ts";
import { ApiError } from "./errors.ts";
import { decodeStringCursor, encodeStringCursor, pageLimit } from "./pagination.ts";

export const domains = new Hono<HubEnv>();

function domainParam(raw: string): string {
  const name = normaliseDomain(raw);
  if (name === null) throw new ApiError(400, "bad_request", "not a valid domain name");
  return name;
}

/** GET /api/v1/domains — accepted domains in name order, with their recipient counts. */
domains.get("/", async (c) => {
  const limit = pageLimit(c.req.query("limit"));
  const items = await listDomains(c.env.DB, limit, decodeStringCursor(c.req.query("cursor")));
  const last = items[items.length - 1];
  return c.json({ items, nextCursor: items.length === limit && last !== undefined ? encodeStringCursor(last.name) : null });
});

/** PUT /api/v1/domains/{domain} — accept mail for a domain: 201 when added, 200 when it already was. */
domains.put("/:domain", async (c) => {
  const { created, domain } = await createDomain(c.env.DB, domainParam(c.req.param("domain")));
  if (created) requestSync(c.env, c.executionCtx);
  return c.json(domain, created ? 201 : 200);
});

/** DELETE /api/v1/domains/{domain} — stop accepting a domain; its recipients and addresses go with it. */
domains.delete("/:domain", async (c) => {
  if (!(await deleteDomain(c.env.DB, domainParam(c.req.param("domain"))))) throw new ApiError(404, "not_found", "No such domain.");
  requestSync(c.env, c.executionCtx);
  return c.body(null, 204);
});
