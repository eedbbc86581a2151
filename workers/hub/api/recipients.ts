import { z } from "@hono/zod-openapi";
import { normaliseAddress, normaliseDomain } from "../../../shared/directory/address.ts";
import { MAX_ALIASES_PER_RECIPIENT, MAX_IMPORT_JSON_BYTES, MAX_IMPORT_ROWS } from "../../../shared/limits.ts";
import { maskAddress } from "../auth/redact.ts";
import { deleteRecipient, findRecipient, listRecipients } from "../db/recipients.ts";
import { requestSync } from "../sync/trigger.ts";
import { noteChange } from "./audit.ts";
import { ApiError } from "./errors.ts";
import { ERRORS, failure, json, NO_CONTENT, route, router } from "./openapi.ts";
import { Cursor, decodeStringCursor, encodeStringCursor, Limit, NextCursor } from "./pagination.ts";
import { csvRows, jsonRows, runImport } from "./recipient-import.ts";

export const recipients = router();

const Recipient = z
  .object({
    address: z.string().openapi({ example: "alice@example.com" }),
    domain: z.string().openapi({ example: "example.com" }),
    aliases: z.array(z.string()).openapi({ description: "Other addresses that deliver to this recipient, in order." }),
    rejectInternet: z.boolean().openapi({ description: "Refuse mail from the internet (internal senders only)." }),
    sclOverride: z.number().int().nullable().openapi({ description: "A fixed Spam Confidence Level for this recipient's mail, or null." }),
    createdAt: z.string(),
    updatedAt: z.string().nullable(),
  })
  .openapi("Recipient");

const RecipientPage = z.object({ items: z.array(Recipient), nextCursor: NextCursor }).openapi("RecipientPage");

const ImportItem = z
  .object({
    address: z.string().openapi({ example: "carol@example.com" }),
    aliases: z
      .array(z.string())
      .max(MAX_ALIASES_PER_RECIPIENT)
      .optional()
      .openapi({ description: "The complete alias set; leave out to keep the stored one." }),
    rejectInternet: z.boolean().optional(),
    sclOverride: z.number().int().min(0).max(9).nullable().optional(),
  })
  .openapi("RecipientImportItem");

const ImportSummarySchema = z
  .object({
    created: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    errors: z
      .array(z.object({ row: z.number().int(), address: z.string(), error: z.string() }))
      .openapi({ description: "The rows that were not applied, in row order." }),
    errorsTruncated: z.literal(true).optional().openapi({ description: "Present when there were more row errors than listed." }),
  })
  .openapi("ImportSummary");

const AddressParams = z.object({
  address: z.string().openapi({ param: { name: "address", in: "path" }, example: "alice@example.com", description: "An address (any case)." }),
});

function addressParam(raw: string): string {
  const address = normaliseAddress(raw);
  if (address === null) throw new ApiError(400, "bad_request", "not a valid address");
  return address;
}

// The JSON form is documented from ImportItem, but each row is checked on its own (a bad row is
// reported, the others applied); the CSV form is read as it streams in. No validator reads the body.
recipients.openAPIRegistry.register("RecipientImportItem", ImportItem);

recipients.openapi(
  route("admin", {
    method: "post",
    path: "/",
    tags: ["Recipients"],
    summary: "Add or update recipients in bulk",
    description:
      `A JSON array of recipients (up to ${MAX_IMPORT_JSON_BYTES} bytes), or CSV with the same columns (\`address,aliases,rejectInternet,sclOverride\`, aliases separated by \`;\`), ` +
      `streamed: up to ${MAX_IMPORT_ROWS} rows in one request. Fields left out keep their stored values. Rows that cannot be applied are listed in \`errors\`; the others are applied.`,
    request: {
      body: {
        required: true,
        description: "The recipients, as JSON or as CSV (UTF-8).",
        content: {
          "application/json": { schema: { type: "array", items: { $ref: "#/components/schemas/RecipientImportItem" } } },
          "text/csv": {
            schema: z.string().openapi({
              description: "A header line naming the columns (address first or anywhere), then one recipient per line.",
              example: "address,aliases,rejectInternet,sclOverride\ncarol@example.com,c.jones@example.com;cj@example.com,false,\n",
            }),
          },
        },
      },
    },
    responses: {
      200: json(ImportSummarySchema, "What the import did"),
      ...ERRORS,
      409: failure("A concurrent change conflicted; the rows before it were applied"),
      413: failure("Too large or too many rows"),
      415: failure("Neither application/json nor text/csv, or not UTF-8"),
    },
  }),
  async (c) => {
    const contentType = c.req.header("content-type") ?? "";
    const [media = "", ...params] = contentType.split(";").map((p) => p.trim().toLowerCase());
    const charset = params
      .find((p) => p.startsWith("charset="))
      ?.slice("charset=".length)
      .replace(/"/g, "");
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
      throw new ApiError(415, "unsupported_media_type", "Imports must be UTF-8.");
    }
    if (media === "application/json") return c.json(await runImport(c, jsonRows(c)), 200);
    if (media === "text/csv") return c.json(await runImport(c, csvRows(c)), 200);
    throw new ApiError(415, "unsupported_media_type", "Send recipients as application/json or text/csv.");
  },
);

recipients.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: ["Recipients"],
    summary: "List recipients",
    description: "Recipients in address order, with aliases and flags.",
    request: {
      query: z.object({
        domain: z.string().optional().openapi({ description: "Only recipients in this domain.", example: "example.com" }),
        limit: Limit,
        cursor: Cursor,
      }),
    },
    responses: { 200: json(RecipientPage, "A page of recipients"), ...ERRORS },
  }),
  async (c) => {
    const { domain: rawDomain, limit, cursor } = c.req.valid("query");
    const domain = rawDomain === undefined || rawDomain === "" ? null : normaliseDomain(rawDomain);
    if (domain === null && rawDomain !== undefined && rawDomain !== "") throw new ApiError(400, "bad_request", "domain is not a valid domain name");
    const items = await listRecipients(c.env.DB, limit, decodeStringCursor(cursor), domain);
    const last = items[items.length - 1];
    return c.json({ items, nextCursor: items.length === limit && last !== undefined ? encodeStringCursor(last.address) : null }, 200);
  },
);

/** Rows read from D1 per page of an export: big pages keep a million-recipient export well under the per-invocation query limit. */
const EXPORT_PAGE_ROWS = 5_000;

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

recipients.openapi(
  route("read-only", {
    method: "get",
    path: "/export",
    tags: ["Recipients"],
    summary: "Export recipients as CSV",
    description:
      "Every recipient (or one domain's) as CSV in the import format (`address,aliases,rejectInternet,sclOverride`, aliases separated by `;`), streamed in address order. Importing the file again changes nothing.",
    request: { query: z.object({ domain: z.string().optional().openapi({ description: "Only recipients in this domain.", example: "example.com" }) }) },
    responses: { 200: { content: { "text/csv": { schema: z.string() } }, description: "The recipients, as CSV" }, ...ERRORS },
  }),
  async (c) => {
    const rawDomain = c.req.valid("query").domain;
    const domain = rawDomain === undefined || rawDomain === "" ? null : normaliseDomain(rawDomain);
    if (domain === null && rawDomain !== undefined && rawDomain !== "") throw new ApiError(400, "bad_request", "domain is not a valid domain name");
    const db = c.env.DB;
    const encoder = new TextEncoder();
    let after: string | null = null;
    let headerSent = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!headerSent) {
          headerSent = true;
          controller.enqueue(encoder.encode("address,aliases,rejectInternet,sclOverride\r\n"));
          return;
        }
        const page = await listRecipients(db, EXPORT_PAGE_ROWS, after, domain);
        const lines = page.map(
          (r) => `${csvField(r.address)},${csvField(r.aliases.join(";"))},${r.rejectInternet ? "true" : "false"},${r.sclOverride ?? ""}\r\n`,
        );
        if (lines.length > 0) controller.enqueue(encoder.encode(lines.join("")));
        if (page.length < EXPORT_PAGE_ROWS) controller.close();
        else after = page[page.length - 1]!.address;
      },
    });
    const name = domain === null ? "recipients" : `recipients-${domain}`;
    return c.body(body, 200, { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${name}.csv"` });
  },
);

recipients.openapi(
  route("read-only", {
    method: "get",
    path: "/{address}",
    tags: ["Recipients"],
    summary: "Find a recipient by an address",
    description: "The recipient an address (primary or alias) delivers to.",
    request: { params: AddressParams },
    responses: { 200: json(Recipient, "The recipient"), ...ERRORS },
  }),
  async (c) => {
    const recipient = await findRecipient(c.env.DB, addressParam(c.req.valid("param").address));
    if (recipient === null) throw new ApiError(404, "not_found", "No recipient has this address.");
    return c.json(recipient, 200);
  },
);

recipients.openapi(
  route("admin", {
    method: "delete",
    path: "/{address}",
    tags: ["Recipients"],
    summary: "Delete a recipient",
    description: "Deletes a recipient by its primary address, aliases included.",
    request: { params: AddressParams },
    responses: { 204: NO_CONTENT, ...ERRORS },
  }),
  async (c) => {
    const address = addressParam(c.req.valid("param").address);
    if (!(await deleteRecipient(c.env.DB, address))) throw new ApiError(404, "not_found", "No recipient has this primary address.");
    requestSync(c.env, c.executionCtx);
    noteChange(c, `deleted recipient ${maskAddress(address)} with its aliases`, maskAddress(address));
    return c.body(null, 204);
  },
);
