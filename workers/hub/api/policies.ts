import { Hono } from "hono";
import { isPolicyName, POLICY_NAMES, type PolicyName, validatePolicy } from "../../../shared/policy.ts";
import type { HubEnv } from "../app.ts";
import { deletePolicy, getPolicy, listPolicyRecords, putPolicy } from "../db/policies.ts";
import { requestSync } from "../sync/trigger.ts";
import { ApiError } from "./errors.ts";

export const policies = new Hono<HubEnv>();

/** Largest policy document accepted (bytes): a policy blob is read whole by every edge isolate. */
const MAX_POLICY_BYTES = 2 * 1024 * 1024;

function policyName(raw: string): PolicyName {
  if (!isPolicyName(raw)) throw new ApiError(404, "not_found", `No policy named ${raw}. Policies: ${POLICY_NAMES.join(", ")}.`);
  return raw;
}

/** GET /api/v1/policies — every policy name, whether it is set, and when it last changed. */
policies.get("/", async (c) => {
  const stored = new Map((await listPolicyRecords(c.env.DB)).map((p) => [p.name, p]));
  return c.json({ items: POLICY_NAMES.map((name) => ({ name, set: stored.has(name), updatedAt: stored.get(name)?.updatedAt ?? null })) });
});

/** GET /api/v1/policies/{name} — the document as stored (404 when not set: built-in defaults apply). */
policies.get("/:name", async (c) => {
  const record = await getPolicy(c.env.DB, policyName(c.req.param("name")));
  if (record === null) throw new ApiError(404, "not_set", "This policy is not set: the built-in defaults apply.");
  return c.json(record);
});

/** PUT /api/v1/policies/{name} — replace a policy; validated, then synced to every edge. */
policies.put("/:name", async (c) => {
  const name = policyName(c.req.param("name"));
  const text = await c.req.text();
  if (text.length > MAX_POLICY_BYTES) throw new ApiError(413, "too_large", `A policy document is at most ${MAX_POLICY_BYTES} bytes.`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(400, "bad_request", "The policy must be a JSON document.");
  }
  const valid = validatePolicy(name, body);
  if (!valid.ok) throw new ApiError(400, "invalid_policy", `Policy ${name} is not valid: ${valid.errors.slice(0, 20).join("; ")}`);
  const { created, changed } = await putPolicy(c.env.DB, name, valid.value);
  if (changed) requestSync(c.env, c.executionCtx);
  return c.json(await getPolicy(c.env.DB, name), created ? 201 : 200);
});

/** DELETE /api/v1/policies/{name} — back to the built-in defaults. */
policies.delete("/:name", async (c) => {
  if (!(await deletePolicy(c.env.DB, policyName(c.req.param("name"))))) throw new ApiError(404, "not_set", "This policy is not set.");
  requestSync(c.env, c.executionCtx);
  return c.body(null, 204);
});
