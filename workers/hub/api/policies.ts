import { z } from "@hono/zod-openapi";
import { isPolicyName, POLICY_NAMES, POLICY_SCHEMAS, type PolicyName, validatePolicy } from "../../../shared/policy.ts";
import { deletePolicy, getPolicy, listPolicyRecords, putPolicy } from "../db/policies.ts";
import { requestSync } from "../sync/trigger.ts";
import { noteChange } from "./audit.ts";
import { ApiError } from "./errors.ts";
import { ERRORS, failure, json, NO_CONTENT, readJson, route, router } from "./openapi.ts";

export const policies = router();

/** Largest policy document accepted (bytes): a policy blob is read whole by every edge isolate. */
const MAX_POLICY_BYTES = 2 * 1024 * 1024;

const PolicySummary = z
  .object({
    items: z.array(z.object({ name: z.enum(POLICY_NAMES), set: z.boolean(), updatedAt: z.string().nullable() })),
  })
  .openapi("PolicyList");

const Policy = z
  .object({
    name: z.enum(POLICY_NAMES),
    body: z.unknown().openapi({ description: "The policy document as stored; its shape depends on the policy (see the request body of PUT)." }),
    updatedAt: z.string(),
  })
  .openapi("Policy");

const PolicyParams = z.object({
  name: z.string().openapi({ param: { name: "name", in: "path" }, example: "thresholds", description: `One of: ${POLICY_NAMES.join(", ")}.` }),
});

// Each policy's schema is documented as a component (Policy.<name>); the body is one of them, as
// the path's name says. The handler validates it with the same schema (a 2 MiB document is read
// whole only once it is known to fit).
for (const name of POLICY_NAMES) policies.openAPIRegistry.register(`Policy.${name}`, POLICY_SCHEMAS[name]);
const PolicyBody = {
  content: { "application/json": { schema: { oneOf: POLICY_NAMES.map((name) => ({ $ref: `#/components/schemas/Policy.${name}` })) } } },
  description: "The policy document: the schema named after the policy in the path (Policy.<name>).",
  required: true,
};

/** Any JSON document, but not an empty body: what PUT reads before the policy's own schema checks it. */
const AnyJson = z.unknown().refine((v) => v !== undefined, "The policy must be a JSON document.");

function policyName(raw: string): PolicyName {
  if (!isPolicyName(raw)) throw new ApiError(404, "not_found", `No policy named ${raw}. Policies: ${POLICY_NAMES.join(", ")}.`);
  return raw;
}

policies.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: ["Policies"],
    summary: "List policies",
    description: "Every policy name, whether it is set, and when it last changed.",
    responses: { 200: json(PolicySummary, "Every policy"), ...ERRORS },
  }),
  async (c) => {
    const stored = new Map((await listPolicyRecords(c.env.DB)).map((p) => [p.name, p]));
    return c.json({ items: POLICY_NAMES.map((name) => ({ name, set: stored.has(name), updatedAt: stored.get(name)?.updatedAt ?? null })) }, 200);
  },
);

policies.openapi(
  route("read-only", {
    method: "get",
    path: "/{name}",
    tags: ["Policies"],
    summary: "Show a policy",
    description: "The document as stored; 404 (`not_set`) when it is not set and the built-in defaults apply.",
    request: { params: PolicyParams },
    responses: { 200: json(Policy, "The policy"), ...ERRORS },
  }),
  async (c) => {
    const record = await getPolicy(c.env.DB, policyName(c.req.valid("param").name));
    if (record === null) throw new ApiError(404, "not_set", "This policy is not set: the built-in defaults apply.");
    return c.json(record, 200);
  },
);

policies.openapi(
  route("admin", {
    method: "put",
    path: "/{name}",
    tags: ["Policies"],
    summary: "Set a policy",
    description: "Replaces a policy; validated (400 `invalid_policy`), then synced to every edge. 201 when it was not set before.",
    request: { params: PolicyParams, body: PolicyBody },
    responses: { 200: json(Policy, "The policy, replaced"), 201: json(Policy, "The policy, set"), ...ERRORS, 413: failure("The document is too large") },
  }),
  async (c) => {
    const name = policyName(c.req.valid("param").name);
    const body = await readJson(c, AnyJson, { maxBytes: MAX_POLICY_BYTES, notJson: "The policy must be a JSON document." });
    const valid = validatePolicy(name, body);
    if (!valid.ok) throw new ApiError(400, "invalid_policy", `Policy ${name} is not valid: ${valid.errors.slice(0, 20).join("; ")}`);
    const { created, changed } = await putPolicy(c.env.DB, name, valid.value);
    if (changed) requestSync(c.env, c.executionCtx);
    noteChange(c, `${created ? "set" : changed ? "changed" : "re-sent unchanged"} policy ${name}`, name);
    return c.json((await getPolicy(c.env.DB, name))!, created ? 201 : 200);
  },
);

policies.openapi(
  route("admin", {
    method: "delete",
    path: "/{name}",
    tags: ["Policies"],
    summary: "Unset a policy",
    description: "Back to the built-in defaults.",
    request: { params: PolicyParams },
    responses: { 204: NO_CONTENT, ...ERRORS },
  }),
  async (c) => {
    const name = policyName(c.req.valid("param").name);
    if (!(await deletePolicy(c.env.DB, name))) throw new ApiError(404, "not_set", "This policy is not set.");
    requestSync(c.env, c.executionCtx);
    noteChange(c, `unset policy ${name}`, name);
    return c.body(null, 204);
  },
);
