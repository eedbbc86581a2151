import { EmailMessage } from "cloudflare:email";
import { normaliseAddress } from "../../../shared/directory/address.ts";
import { withTags } from "../../../shared/tags.ts";
import { getMessage, type MessageRecord } from "../db/messages.ts";
import { type AttemptResult, type ClaimedOnward, claimOnward, finishOnward } from "../db/onward.ts";
import { buildForward } from "./forward.ts";
import { ONWARD_ATTEMPT_LEASE_MS, ONWARD_ERROR_CHARS, ONWARD_RETRY_BASE_SECONDS, ONWARD_RETRY_MAX_SECONDS, WEBHOOK_TIMEOUT_MS } from "./limits.ts";
import { postWebhook } from "./webhook.ts";
import { hubLog } from "../../../shared/log.ts";

export interface AttemptOptions {
  /** The clock (ms); tests move it. */
  now?: number;
  /** How webhooks are posted: the global fetch unless a test injects one. */
  fetcher?: typeof fetch;
  webhookTimeoutMs?: number;
  /** How forward routes send: through the MAILER send_email binding unless a test injects a recorder. */
  sendMail?: MailSender;
}

/** Sends one raw message with an envelope sender and recipient. */
export type MailSender = (from: string, to: string, raw: Uint8Array) => Promise<void>;

function bindingSender(env: Env): MailSender {
  return async (from, to, raw) => {
    await env.MAILER.send(new EmailMessage(from, to, new Response(raw).body!));
  };
}

/** How one call went: the row's new state, or `skipped` when there was nothing to attempt (not due, held, done). */
export type AttemptOutcome = { state: "delivered" } | { state: "pending"; nextAttemptAt: number } | { state: "failed" } | { state: "skipped" };

/** Delay after the `attempts`-th failed attempt (s): base × 2^(attempts−1), capped. */
export function onwardRetryDelaySeconds(attempts: number): number {
  return Math.min(ONWARD_RETRY_MAX_SECONDS, ONWARD_RETRY_BASE_SECONDS * 2 ** Math.min(30, Math.max(0, attempts - 1)));
}

/**
 * Makes one attempt at an onward step, if it is due: claims the row (so nothing else attempts it
 * meanwhile), reads the stored message from R2, posts or sends it, and records the outcome — due
 * again after the backoff, or failed once the next attempt would fall after the row's expiry.
 */
export async function attemptOnward(env: Env, id: number, options: AttemptOptions = {}): Promise<AttemptOutcome> {
  const now = options.now ?? Date.now();
  const claimed = await claimOnward(env.DB, id, new Date(now).toISOString(), new Date(now + ONWARD_ATTEMPT_LEASE_MS).toISOString());
  if (claimed === null) return { state: "skipped" };

  let error: string | null;
  let permanent = false;
  let message: Awaited<ReturnType<typeof getMessage>> = null;
  try {
    message = await getMessage(env.DB, claimed.messageId);
    const object = message === null ? null : await env.MAILBOX.get(message.r2Key);
    if (message === null || object === null) {
      error = "the stored message is missing";
      permanent = true;
    } else {
      // Onward copies are the message as delivered: the received bytes with the verdict's tag headers.
      const body = withTags(new Uint8Array(await object.arrayBuffer()), message.tags);
      error =
        claimed.kind === "webhook"
          ? await postWebhook(
              {
                url: claimed.target,
                secret: claimed.secret ?? "",
                deliveryId: message.deliveryId,
                envelopeFrom: message.from,
                recipients: claimed.recipients,
                attempt: claimed.attempt,
                body,
              },
              { fetcher: options.fetcher ?? fetch.bind(globalThis), timeoutMs: options.webhookTimeoutMs ?? WEBHOOK_TIMEOUT_MS, now },
            )
          : await sendForward(env, claimed, message, body, now, options.sendMail ?? bindingSender(env));
    }
  } catch (err) {
    error = `attempt failed: ${err instanceof Error ? err.message : String(err)}`;
  }

  let result: AttemptResult;
  if (error === null) result = { state: "delivered" };
  else {
    const text = error.slice(0, ONWARD_ERROR_CHARS);
    const next = now + onwardRetryDelaySeconds(claimed.attempt) * 1000;
    result =
      permanent || next >= Date.parse(claimed.expiresAt)
        ? { state: "failed", error: text }
        : { state: "pending", error: text, nextAttemptAt: new Date(next).toISOString() };
  }
  const recorded = await finishOnward(env.DB, claimed.id, claimed.attempt, result, new Date(now).toISOString());
  // Ids and the route kind only: addresses and webhook URLs (which may carry tokens) stay out of logs.
  hubLog(env.HUB_ID, { messageId: message?.messageId ?? null, deliveryId: message?.deliveryId ?? null }).info(`onward_${result.state}`, {
    onwardId: claimed.id,
    message: claimed.messageId,
    kind: claimed.kind,
    attempt: claimed.attempt,
    ...(result.state === "delivered" ? {} : { error: result.error }),
    ...(recorded ? {} : { note: "row moved on meanwhile; outcome not recorded" }),
  });
  if (!recorded) return { state: "skipped" };
  return result.state === "pending" ? { state: "pending", nextAttemptAt: Date.parse(result.nextAttemptAt) } : { state: result.state };
}

/** Sends a forward route's message (the delivered copy attached); returns why not, or null. */
async function sendForward(env: Env, claimed: ClaimedOnward, message: MessageRecord, body: Uint8Array, now: number, send: MailSender): Promise<string | null> {
  const from = normaliseAddress(env.FORWARD_FROM);
  if (from === null) return "FORWARD_FROM is not set to an address this hub may send from";
  const raw = buildForward(
    {
      from,
      to: claimed.target,
      deliveryId: message.deliveryId,
      envelopeFrom: message.from,
      recipients: claimed.recipients,
      subject: message.subject,
      hubId: env.HUB_ID,
      now: new Date(now),
    },
    body,
  );
  await send(from, claimed.target, raw);
  return null;
}
