import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { readBounded, TooLargeError } from "../../../shared/bytes.ts";
import { validatePolicy } from "../../../shared/policy.ts";
import { DEFAULT_RELAY_RATE_PER_MINUTE, MAX_RELAY_MESSAGE_BYTES } from "../../../shared/relay/limits.ts";
import type { HubEnv } from "../app.ts";
import { noteChange } from "../api/audit.ts";
import { ApiError } from "../api/errors.ts";
import { ERRORS, ErrorBody, json, route, router } from "../api/openapi.ts";
import { requestSync } from "../sync/trigger.ts";
import { changeRelayClients, listRelayClients, newRelayKey, RelayClientConflict, type RelayClientRecord } from "./store.ts";

/**
 * `/api/v1/relay-clients`: the applications allowed to submit mail at the edges' POST /v1/relay.
 * Creating a client (or a new key for it) answers with its API key once; only the key's SHA-256
 * is stored, in the `relay-clients` policy, and every change is synced to the edges.
 */
export const relayClients = router();

/** Largest request body (bytes): up to a thousand ranges and a thousand senders. */
const MAX_BODY_BYTES = 256 * 1024;

const RelayClient = z
  .object({
    id: z.string().openapi({ example: "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" }),
    name: z.string().openapi({ example: "SharePoint" }),
    allowedIps: z
      .array(z.string())
      .openapi({ description: "CIDR ranges (IPv4 or IPv6) the client may relay from, as CF-Connecting-IP shows it.", example: ["10.20.0.0/16"] }),
    allowedSenders: z
      .array(z.string())
      .openapi({ description: 'Addresses, or "@domain" for a whole domain, the client may use in From and Sender.', example: ["@example.com"] }),
    ratePerMinute: z.number().int().openapi({ description: "Messages a minute; also the burst allowed at once.", example: 60 }),
    maxMessageBytes: z
      .number()
      .int()
      .nullable()
      .openapi({ description: `Largest message (bytes); null: ${MAX_RELAY_MESSAGE_BYTES}.` }),
    createdAt: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("RelayClient");

const RelayClientList = z.object({ items: z.array(RelayClient) }).openapi("RelayClientList");

const RelayClientWithKey = RelayClient.extend({
  key: z
    .string()
    .openapi({ description: "The API key (Authorization: Bearer <key> at POST /v1/relay): shown only in this answer, store it now.", example: "pcr_Vq3…" }),
}).openapi("RelayClientWithKey");

const Ips = z.array(z.string()).min(1, "list at least one range (0.0.0.0/0 and ::/0 allow every address)").max(1000);
const Senders = z.array(z.string()).min(1, "list at least one address or @domain").max(1000);
const Rate = z.number().int().min(1).max(100_000);
const MaxBytes = z.number().int().min(1024).max(MAX_RELAY_MESSAGE_BYTES);

const NewRelayClient = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    allowedIps: Ips,
    allowedSenders: Senders,
    ratePerMinute: Rate.optional(),
    maxMessageBytes: MaxBytes.optional(),
  })
  .openapi("NewRelayClient", {
    example: { name: "SharePoint", allowedIps: ["10.20.0.0/16"], allowedSenders: ["sharepoint@example.com", "@intranet.example.com"], ratePerMinute: 120 },
  });

const RelayClientChange = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional(),
    allowedIps: Ips.optional(),
    allowedSenders: Senders.optional(),
    ratePerMinute: Rate.optional(),
    maxMessageBytes: MaxBytes.nullable().optional(),
  })
  .openapi("RelayClientChange", { example: { allowedIps: ["10.20.0.0/16", "10.30.0.0/16"] } });

const Params = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" }) });

// Bodies are read by the handlers (bounded, any Content-Type, as the rest of the admin API), so
// the schemas are documented as components rather than attached as validators.
relayClients.openAPIRegistry.register("NewRelayClient", NewRelayClient);
relayClients.openAPIRegistry.register("RelayClientChange", RelayClientChange);
const documented = (name: string, description: string) => ({
  content: { "application/json": { schema: { $ref: `#/components/schemas/${name}` } } },
  description,
  required: true,
});

const TOO_LARGE = json(ErrorBody, "The body is too large");
const CONFLICT = json(ErrorBody, "The clients changed too often meanwhile; try again");

/** What the API shows of a client: never its key, nor the key's hash. */
function view(client: RelayClientRecord): z.infer<typeof RelayClient> {
  return {
    id: client.id,
    name: client.name,
    allowedIps: client.allowedIps,
    allowedSenders: client.allowedSenders,
    ratePerMinute: client.ratePerMinute,
    maxMessageBytes: client.maxMessageBytes ?? null,
    createdAt: client.createdAt ?? null,
  };
}

async function readBody<T extends z.ZodType>(c: Context<HubEnv>, schema: T): Promise<z.output<T>> {
  if (Number(c.req.header("content-length")) > MAX_BODY_BYTES) throw new ApiError(413, "too_large", `The body is at most ${MAX_BODY_BYTES} bytes.`);
  let text: string;
  try {
    text = c.req.raw.body === null ? "" : new TextDecoder().decode(await readBounded(c.req.raw.body, MAX_BODY_BYTES));
  } catch (err) {
    if (err instanceof TooLargeError) throw new ApiError(413, "too_large", `The body is at most ${MAX_BODY_BYTES} bytes.`);
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, "bad_request", 'The body must be JSON, e.g. {"name", "allowedIps": [CIDR…], "allowedSenders": [address or "@domain"…]}.');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ApiError(
      400,
      "bad_request",
      parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join(".") || "body"}: ${i.message}`)
        .join("; "),
    );
  }
  return parsed.data;
}

/** Checks one client against the policy's own rules (CIDR ranges, sender patterns), naming the field at fault. */
function checked(client: RelayClientRecord): RelayClientRecord {
  const valid = validatePolicy("relay-clients", [client]);
  if (!valid.ok) throw new ApiError(400, "invalid_relay_client", valid.errors.map((e) => e.replace(/^0\./, "")).join("; "));
  return valid.value[0]!;
}

function notFound(): ApiError {
  return new ApiError(404, "not_found", "No such relay client.");
}

/** Runs a change; a lost race that retrying could not win is a 409. */
async function change<T>(c: Context<HubEnv>, apply: (clients: RelayClientRecord[]) => { clients: RelayClientRecord[] | null; result: T }): Promise<T> {
  try {
    const result = await changeRelayClients(c.env.DB, apply);
    requestSync(c.env, c.executionCtx);
    return result;
  } catch (err) {
    if (err instanceof RelayClientConflict) throw new ApiError(409, "conflict", err.message);
    throw err;
  }
}

relayClients.openapi(
  route("admin", {
    method: "post",
    path: "/",
    tags: ["Relay"],
    summary: "Create a relay client",
    description:
      "Creates a client of the edges' relay (POST /v1/relay) and its API key. The answer is the only time the key is shown: only its SHA-256 is stored and synced to the edges (policy relay-clients).",
    request: { body: documented("NewRelayClient", "The client's name, allowed source ranges and senders, rate and size limit") },
    responses: { 201: json(RelayClientWithKey, "The new client, with its key"), ...ERRORS, 409: CONFLICT, 413: TOO_LARGE },
  }),
  async (c) => {
    const body = await readBody(c, NewRelayClient);
    const { key, keyHash } = await newRelayKey();
    const client = checked({
      id: crypto.randomUUID(),
      name: body.name,
      keyHash,
      allowedIps: body.allowedIps,
      allowedSenders: body.allowedSenders,
      ratePerMinute: body.ratePerMinute ?? DEFAULT_RELAY_RATE_PER_MINUTE,
      ...(body.maxMessageBytes === undefined ? {} : { maxMessageBytes: body.maxMessageBytes }),
      createdAt: new Date().toISOString(),
    });
    await change(c, (clients) => ({ clients: [...clients, client], result: null }));
    noteChange(c, `created relay client "${client.name}"`, client.id);
    return c.json({ ...view(client), key }, 201);
  },
);

relayClients.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: ["Relay"],
    summary: "List relay clients",
    description: "Every relay client, in the order they were created. Never their keys.",
    responses: { 200: json(RelayClientList, "The relay clients"), ...ERRORS },
  }),
  async (c) => c.json({ items: (await listRelayClients(c.env.DB)).map(view) }, 200),
);

relayClients.openapi(
  route("read-only", {
    method: "get",
    path: "/{id}",
    tags: ["Relay"],
    summary: "Show a relay client",
    request: { params: Params },
    responses: { 200: json(RelayClient, "The client (never its key)"), ...ERRORS },
  }),
  async (c) => {
    const client = (await listRelayClients(c.env.DB)).find((x) => x.id === c.req.valid("param").id);
    if (client === undefined) throw notFound();
    return c.json(view(client), 200);
  },
);

relayClients.openapi(
  route("admin", {
    method: "patch",
    path: "/{id}",
    tags: ["Relay"],
    summary: "Change a relay client",
    description: "Changes the fields given (maxMessageBytes: null for the default); the key stays. Synced to the edges.",
    request: { params: Params, body: documented("RelayClientChange", "The fields to change") },
    responses: { 200: json(RelayClient, "The client as changed"), ...ERRORS, 409: CONFLICT, 413: TOO_LARGE },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const body = await readBody(c, RelayClientChange);
    const updated = await change(c, (clients) => {
      const i = clients.findIndex((x) => x.id === id);
      if (i === -1) throw notFound();
      const { maxMessageBytes, ...rest } = { ...clients[i]!, ...body };
      const next = checked({ ...rest, ...(maxMessageBytes === null || maxMessageBytes === undefined ? {} : { maxMessageBytes }) });
      return { clients: clients.map((x, j) => (j === i ? next : x)), result: next };
    });
    noteChange(c, `changed relay client "${updated.name}" (${Object.keys(body).join(", ") || "nothing"})`, updated.id);
    return c.json(view(updated), 200);
  },
);

relayClients.openapi(
  route("admin", {
    method: "post",
    path: "/{id}/key",
    tags: ["Relay"],
    summary: "Give a relay client a new key",
    description:
      "Replaces the client's key; the old one stops working at every edge once the change is synced (seconds). The answer is the only time the new key is shown.",
    request: { params: Params },
    responses: { 200: json(RelayClientWithKey, "The client, with its new key"), ...ERRORS, 409: CONFLICT },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { key, keyHash } = await newRelayKey();
    const updated = await change(c, (clients) => {
      const i = clients.findIndex((x) => x.id === id);
      if (i === -1) throw notFound();
      const next = { ...clients[i]!, keyHash };
      return { clients: clients.map((x, j) => (j === i ? next : x)), result: next };
    });
    noteChange(c, `gave relay client "${updated.name}" a new key`, updated.id);
    return c.json({ ...view(updated), key }, 200);
  },
);

relayClients.openapi(
  route("admin", {
    method: "delete",
    path: "/{id}",
    tags: ["Relay"],
    summary: "Delete a relay client",
    description: "The client's key stops working at every edge once the change is synced (seconds).",
    request: { params: Params },
    responses: { 204: { description: "Deleted" }, ...ERRORS, 409: CONFLICT },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const removed = await change(c, (clients) => {
      const client = clients.find((x) => x.id === id);
      if (client === undefined) throw notFound();
      return { clients: clients.filter((x) => x.id !== id), result: client };
    });
    noteChange(c, `deleted relay client "${removed.name}"`, id);
    return c.body(null, 204);
  },
);
