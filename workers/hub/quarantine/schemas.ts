import { z } from "@hono/zod-openapi";

/** The request and response shapes of the quarantine and feedback routes, as the OpenAPI document shows them. */

export const IdParam = z.object({
  id: z
    .string()
    .regex(/^\d{1,15}$/, "must be a positive integer")
    .transform(Number)
    .openapi({ param: { name: "id", in: "path" }, example: "42", type: "string" }),
});

const AgentOutcome = z.object({
  agent: z.string(),
  result: z.enum(["pass", "fail", "skip"]),
  reason: z.string(),
  detail: z.string().optional(),
});

export const QuarantineItem = z
  .object({
    id: z.number().int(),
    deliveryId: z.string(),
    from: z.string().openapi({ description: "Envelope sender" }),
    to: z.array(z.string()).openapi({ description: "Envelope recipients" }),
    subject: z.string().nullable(),
    messageId: z.string().nullable(),
    size: z.number().int(),
    scl: z.number().int(),
    reasons: z.array(AgentOutcome).openapi({ description: "The agent results that put the message in quarantine (result fail)" }),
    agents: z.array(AgentOutcome),
    receivedAt: z.string(),
    storedAt: z.string(),
  })
  .openapi("QuarantineItem");

export const QuarantineList = z.object({ items: z.array(QuarantineItem), nextCursor: z.string().nullable() }).openapi("QuarantineList");

export const QuarantineQuery = z.object({
  cursor: z.string().optional(),
  limit: z.string().optional().openapi({ description: "1–500, default 50" }),
  sender: z.string().max(256).optional().openapi({ description: 'Envelope sender: an address, or "@domain" for a whole domain', example: "@example.net" }),
  recipient: z.string().max(256).optional().openapi({ description: 'Envelope recipient: an address, or "@domain"', example: "alice@example.com" }),
});

const SafePreview = z
  .object({
    headers: z.object({ text: z.string(), bytes: z.number().int(), truncated: z.boolean() }),
    problem: z
      .object({ code: z.string(), message: z.string() })
      .nullable()
      .openapi({ description: "Why the message could not be parsed (then it has no text or attachments)" }),
    from: z.string().nullable(),
    to: z.array(z.string()),
    cc: z.array(z.string()),
    subject: z.string().nullable(),
    date: z.string().nullable(),
    text: z.object({ content: z.string(), source: z.enum(["text/plain", "text/html", "none"]), truncated: z.boolean() }),
    links: z.array(z.object({ href: z.string(), text: z.string() })),
    attachments: z.array(
      z.object({ filename: z.string().nullable(), contentType: z.string(), size: z.number().int(), disposition: z.string().nullable(), inline: z.boolean() }),
    ),
    attachmentCount: z.number().int(),
  })
  .openapi("QuarantinePreview", { description: "Text only: never HTML to render, never remote content, never attachment contents" });

export const QuarantineDetail = QuarantineItem.extend({
  edgeId: z.string(),
  preview: SafePreview.nullable(),
  /** Set when the bytes are missing. */
  previewError: z.string().nullable(),
}).openapi("QuarantineDetail");

export const ReleaseResult = z
  .object({
    id: z.number().int(),
    releasedAt: z.string(),
    releasedBy: z.string(),
    onward: z.array(z.number().int()).openapi({ description: "The onward steps written (see GET /api/v1/onward/{id})" }),
  })
  .openapi("QuarantineRelease");

export const DeleteResult = z.object({ id: z.number().int(), deletedAt: z.string(), deletedBy: z.string() }).openapi("QuarantineDelete");

export const ReportBody = z.object({ verdict: z.enum(["ham", "spam"]) }).strict();

const FeedbackRecord = z
  .object({
    id: z.number().int(),
    messageId: z.number().int(),
    verdict: z.enum(["ham", "spam"]),
    kind: z.enum(["false_positive", "false_negative", "confirmation"]),
    messageAction: z.string(),
    messageScl: z.number().int(),
    tokens: z.number().int().openapi({ description: "Distinct tokens trained (only their hashes are stored)" }),
    reportedBy: z.string(),
    reportedAt: z.string(),
    withdrawnAt: z.string().nullable(),
    withdrawnBy: z.string().nullable(),
  })
  .openapi("FeedbackReport");

const ModelStatus = z
  .object({
    version: z.string(),
    generation: z.number().int(),
    builtGeneration: z.number().int(),
    upToDate: z.boolean(),
    standing: z.object({ spam: z.number().int(), ham: z.number().int() }),
    tokens: z.number().int().optional(),
  })
  .openapi("ContentModelStatus");

export const ReportResult = z
  .object({ report: FeedbackRecord, created: z.boolean(), replaced: z.number().int().nullable(), model: ModelStatus })
  .openapi("FeedbackReportResult");

export const FeedbackList = z.object({ items: z.array(FeedbackRecord), nextCursor: z.string().nullable(), model: ModelStatus }).openapi("FeedbackList");

export const FeedbackQuery = z.object({
  cursor: z.string().optional(),
  limit: z.string().optional(),
  state: z.enum(["standing", "withdrawn", "all"]).optional().openapi({ description: "Default standing" }),
  verdict: z.enum(["ham", "spam"]).optional(),
  messageId: z
    .string()
    .regex(/^\d{1,15}$/)
    .transform(Number)
    .optional(),
});

export const WithdrawResult = z.object({ report: FeedbackRecord, model: ModelStatus }).openapi("FeedbackWithdrawal");
