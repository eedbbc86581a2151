import type { DkimSignature } from "./dkim-sign.ts";

/**
 * The relay's answer (POST /v1/relay), shared by the edge that sends it and the CLI that reads it.
 *
 * Per recipient:
 *   delivered  an upstream hub stored it (internal recipients)
 *   queued     no hub took it yet: it is in the edge's spool and will be delivered (internal)
 *   sent       the send connector took it (external recipients)
 *   rejected   refused for good: unknown user at an accepted domain, or no send connector
 *   failed     the send connector refused it (e.g. an unverified destination)
 *   deferred   not sent because of a temporary problem; submit it again (with a new Idempotency-Key)
 */
export type RecipientStatus = "delivered" | "queued" | "sent" | "rejected" | "failed" | "deferred";

export interface RecipientResult {
  address: string;
  /** internal: an accepted domain, through the upstream hubs; external: through the send connector. */
  route: "internal" | "external";
  status: RecipientStatus;
  /** The hub that stored it, or the send connector that took it. */
  via?: string;
  /** For rejected, failed and deferred: a stable code and a message. */
  code?: string;
  message?: string;
}

/** 200: the message was accepted for at least one recipient. */
export interface RelayAnswer {
  /** accepted: every recipient delivered, queued or sent; partial: some were not (see each). */
  status: "accepted" | "partial";
  messageId: string;
  /** The id tracking and the hubs know the message by. */
  deliveryId: string;
  recipients: RecipientResult[];
  /** The DKIM signatures the message carries (empty: no key for the From domain). */
  dkim: DkimSignature[];
}

/** Recipient outcomes that mean the message is on its way to that recipient. */
export const ACCEPTED_STATUSES: ReadonlySet<RecipientStatus> = new Set(["delivered", "queued", "sent"]);
