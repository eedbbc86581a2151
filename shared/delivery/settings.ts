import type { Policies } from "../policy.ts";

/**
 * Delivery and spool settings with their defaults. Timings follow Exchange's transport defaults
 * where there is one (a delay notice after 4 hours, expiry after 2 days), scaled to an email
 * handler that is cancelled after roughly 30 seconds of wall clock.
 */
export interface DeliverySettings {
  attemptTimeoutMs: number;
  budgetMs: number;
  breakerFailures: number;
  breakerOpenSeconds: number;
  retryBaseSeconds: number;
  retryMaxSeconds: number;
  delayNoticeAfterSeconds: number;
  expireAfterSeconds: number;
}

export const DEFAULT_DELIVERY_SETTINGS: Readonly<DeliverySettings> = {
  // One slow hub may not eat the whole budget: two attempts and a spool write fit inside it.
  attemptTimeoutMs: 8_000,
  // Well inside the ~30 s after which the email handler is cancelled, leaving time to spool.
  budgetMs: 18_000,
  breakerFailures: 5,
  breakerOpenSeconds: 30,
  retryBaseSeconds: 60,
  // Queues accept a delay of at most 12 h; an hour keeps retries frequent once a hub returns.
  retryMaxSeconds: 3_600,
  delayNoticeAfterSeconds: 4 * 3_600,
  expireAfterSeconds: 2 * 86_400,
};

export function deliverySettings(policy: Policies["delivery"] | null): DeliverySettings {
  const settings = { ...DEFAULT_DELIVERY_SETTINGS };
  for (const [k, v] of Object.entries(policy ?? {})) if (v !== undefined) settings[k as keyof DeliverySettings] = v;
  settings.retryMaxSeconds = Math.max(settings.retryMaxSeconds, settings.retryBaseSeconds);
  settings.attemptTimeoutMs = Math.min(settings.attemptTimeoutMs, settings.budgetMs);
  return settings;
}

/** The spool's retry delay after `attempts` failed rounds: base × 2^(attempts-1), capped; never past the queue's 12 h limit. */
export function retryDelaySeconds(settings: DeliverySettings, attempts: number): number {
  const exp = Math.min(30, Math.max(0, attempts - 1));
  return Math.min(settings.retryMaxSeconds, settings.retryBaseSeconds * 2 ** exp, 43_200);
}
