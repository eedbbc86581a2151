import type { Context } from "hono";
import { readBounded, TooLargeError } from "../../../shared/bytes.ts";
import type { HubEnv } from "../app.ts";
import { ERRORS, ErrorBody, json, route, router } from "../api/openapi.ts";
import { decodeCursor, encodeCursor, pageLimit } from "../api/pagination.ts";
import { QuarantineError } from "./errors.ts";
import { reportMessage, withdrawFeedback } from "./feedback.ts";
import { type FeedbackVerdict, listReports } from "./feedback-store.ts";
import { ACTOR_MAX_CHARS, REPORT_BODY_MAX_BYTES } from "./limits.ts";
import { ensureContentModel, modelStatus } from "./model.ts";
import { safePreview } from "./preview.ts";
import { deleteQuarantined, quarantined, releaseMessage } from "./release.ts";
import {
  DeleteResult,
  FeedbackList,
  FeedbackQuery,
  IdParam,
  QuarantineDetail,
  QuarantineList,
  QuarantineQuery,
  ReleaseResult,
  ReportBody,
  ReportResult,
  WithdrawResult,
} from "./schemas.ts";
import { type AddressFilter, listQuarantine, quarantineItem, type Stamp } from "./store.ts";

/**
 * The quarantine and the content filter's feedback, in the admin API's route convention
 * (api/openapi.ts). Mount `quarantine` at /api/v1/quarantine, `feedback` at /api/v1/feedback and
 * `messageReports` at /api/v1/messages (beside the messages router: it adds
 * POST /api/v1/messages/{id}/report).
 */
export const quarantine = router();
export const feedback = router();
export const messageReports = router();

const QUARANTINE = "Quarantine";
const FEEDBACK = "Content filter feedback";

const CONFLICT = { 409: json(ErrorBody, "The message is not in a state that allows this (already released, deleted, …)") };

/**
 * Who is acting, for the audit columns: the name of the request's token, as the authentication
 * middleware puts it on the context (`principal`).
 */
function stamp(c: Context<HubEnv>): Stamp {
  const principal = c.get("principal" as never) as { id?: unknown; name?: unknown } | undefined;
  const name = typeof principal?.name === "string" && principal.name !== "" ? principal.name : typeof principal?.id === "string" ? principal.id : "unknown";
  return { at: new Date().toISOString(), by: name.slice(0, ACTOR_MAX_CHARS) };
}

/**
 * The verdict of a report body, read here rather than by a validator in front: the admin API takes
 * JSON whatever Content-Type a client sends (curl's `-d` says form data), and a body is tiny.
 */
async function verdictOf(c: Context<HubEnv>): Promise<FeedbackVerdict> {
  const tooLarge = () => new QuarantineError(413, "too_large", `A report body is at most ${REPORT_BODY_MAX_BYTES} bytes.`);
  if (Number(c.req.header("content-length")) > REPORT_BODY_MAX_BYTES) throw tooLarge();
  let text = "";
  try {
    if (c.req.raw.body !== null) text = new TextDecoder().decode(await readBounded(c.req.raw.body, REPORT_BODY_MAX_BYTES));
  } catch (err) {
    throw err instanceof TooLargeError ? tooLarge() : err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const body = ReportBody.safeParse(value);
  if (!body.success) throw new QuarantineError(400, "bad_request", 'The body must be {"verdict":"ham"} or {"verdict":"spam"}.');
  return body.data.verdict;
}

/** An envelope filter from the query: an address, or "@domain"; lower case. */
function addressFilter(raw: string | undefined, name: string): AddressFilter | null {
  if (raw === undefined || raw === "") return null;
  const value = raw.trim().toLowerCase();
  const at = value.lastIndexOf("@");
  if (/\s/.test(value) || at === -1 || at === value.length - 1) {
    throw new QuarantineError(400, "bad_request", `${name} must be an address or "@domain"`);
  }
  return value;
}

/** A page of a list: the items, and the cursor of the next page (null on the last). */
function page<T extends { id: number }>(items: T[], limit: number): { items: T[]; nextCursor: string | null } {
  const last = items[items.length - 1];
  return { items, nextCursor: items.length === limit && last !== undefined ? encodeCursor(last.id) : null };
}

quarantine.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: [QUARANTINE],
    summary: "Quarantined messages, newest first",
    request: { query: QuarantineQuery },
    responses: { 200: json(QuarantineList, "Quarantined messages with envelope, subject, SCL and the agent results that put them there"), ...ERRORS },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const limit = pageLimit(query.limit);
    const items = await listQuarantine(c.env.DB, {
      limit,
      before: decodeCursor(query.cursor),
      sender: addressFilter(query.sender, "sender"),
      recipient: addressFilter(query.recipient, "recipient"),
    });
    return c.json(page(items, limit), 200);
  },
);

quarantine.openapi(
  route("read-only", {
    method: "get",
    path: "/{id}",
    tags: [QUARANTINE],
    summary: "A quarantined message with a safe preview",
    description:
      "Metadata, and a text-only preview: the header block (capped), the plain text (or the HTML turned into text), links as text, and the attachments' names, types and sizes. Nothing is rendered or fetched, and no attachment is opened.",
    request: { params: IdParam },
    responses: { 200: json(QuarantineDetail, "The message and its preview"), ...ERRORS },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    let message;
    try {
      message = await quarantined(c.env.DB, id);
    } catch (err) {
      // Not in quarantine (released, deleted, delivered) is "not here" for a read.
      if (err instanceof QuarantineError && err.status === 409) throw new QuarantineError(404, "not_quarantined", err.message);
      throw err;
    }
    const object = await c.env.MAILBOX.get(message.r2Key);
    const preview = object === null ? null : await safePreview(new Uint8Array(await object.arrayBuffer()));
    return c.json(
      { ...quarantineItem(message), edgeId: message.edgeId, preview, previewError: object === null ? "The message's stored bytes are missing." : null },
      200,
    );
  },
);

quarantine.openapi(
  route("operator", {
    method: "post",
    path: "/{id}/release",
    tags: [QUARANTINE],
    summary: "Release a message to the mailbox and route it on",
    description:
      "Moves the bytes from quarantine/ to messages/, marks the message accepted (with who released it and when) and writes its onward steps (webhook and forward routes of the recipients' domains), as for accepted mail. A second release is a 409.",
    request: { params: IdParam },
    responses: { 200: json(ReleaseResult, "Released"), ...ERRORS, ...CONFLICT },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const s = stamp(c);
    return c.json(await releaseMessage(c.env, id, s.by, Date.parse(s.at)), 200);
  },
);

quarantine.openapi(
  route("operator", {
    method: "delete",
    path: "/{id}",
    tags: [QUARANTINE],
    summary: "Delete a quarantined message",
    description: "Deletes its bytes; the index row stays, marked deleted with who and when, for audit.",
    request: { params: IdParam },
    responses: { 200: json(DeleteResult, "Deleted"), ...ERRORS, ...CONFLICT },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const s = stamp(c);
    const done = await deleteQuarantined(c.env, id, s.by, Date.parse(s.at));
    return c.json({ id, deletedAt: done.at, deletedBy: done.by }, 200);
  },
);

const reportResponses = {
  200: json(ReportResult, "The message already had a standing report with this verdict: nothing changed"),
  201: json(ReportResult, "Reported; the content-model policy was rebuilt and a sync requested"),
  ...ERRORS,
  ...CONFLICT,
  422: json(ErrorBody, "The message cannot be parsed, so there is nothing to learn from it"),
};

// Registered with each router that refers to it, so either documents itself wherever it is mounted.
quarantine.openAPIRegistry.register("FeedbackReportBody", ReportBody);
messageReports.openAPIRegistry.register("FeedbackReportBody", ReportBody);
const reportRequest = {
  params: IdParam,
  // Documented by reference, so no validator runs before the handler (see verdictOf).
  body: { content: { "application/json": { schema: { $ref: "#/components/schemas/FeedbackReportBody" } } }, description: "The verdict", required: true },
};

/** The report route, on the quarantine (the message must be quarantined now) and on the messages (any stored message). */
function reportRoute(on: typeof quarantine, summary: string, quarantineOnly: boolean): void {
  on.openapi(
    route("operator", { method: "post", path: "/{id}/report", tags: [FEEDBACK], summary, request: reportRequest, responses: reportResponses }),
    async (c) => {
      const result = await reportMessage(c.env, c.executionCtx, c.req.valid("param").id, await verdictOf(c), stamp(c), { quarantineOnly });
      return c.json(result, result.created ? 201 : 200);
    },
  );
}

reportRoute(quarantine, "Report a quarantined message as ham (a false positive) or spam", true);
reportRoute(messageReports, "Report a stored message as spam (a false negative when it was delivered) or ham", false);

feedback.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: [FEEDBACK],
    summary: "Spam and ham reports, newest first, and where the content model stands",
    request: { query: FeedbackQuery },
    responses: { 200: json(FeedbackList, "Reports"), ...ERRORS },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const limit = pageLimit(query.limit);
    const items = await listReports(c.env.DB, {
      limit,
      before: decodeCursor(query.cursor),
      state: query.state ?? "standing",
      verdict: query.verdict ?? null,
      messageId: query.messageId ?? null,
    });
    return c.json({ ...page(items, limit), model: await modelStatus(c.env.DB) }, 200);
  },
);

feedback.openapi(
  route("admin", {
    method: "delete",
    path: "/{id}",
    tags: [FEEDBACK],
    summary: "Withdraw a report",
    description: "The report stays listed (state withdrawn) for audit; the content-model policy is rebuilt without it.",
    request: { params: IdParam },
    responses: { 200: json(WithdrawResult, "Withdrawn; the model was rebuilt"), ...ERRORS, ...CONFLICT },
  }),
  async (c) => c.json(await withdrawFeedback(c.env, c.executionCtx, c.req.valid("param").id, stamp(c)), 200),
);

feedback.openapi(
  route("operator", {
    method: "post",
    path: "/rebuild",
    tags: [FEEDBACK],
    summary: "Rebuild the content model from the standing reports, if it is behind",
    description: "Only needed after a rebuild failed (the list's model.upToDate is false); reports and withdrawals rebuild by themselves.",
    responses: { 200: json(FeedbackList.shape.model, "Where the model stands"), ...ERRORS },
  }),
  async (c) => c.json(await ensureContentModel(c.env, c.executionCtx), 200),
);
