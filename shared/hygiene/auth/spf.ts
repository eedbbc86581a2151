import type { AuthVerdict } from "../types.ts";
import { type MailauthResolver, spf } from "./mailauth.js";
import { toVerdict } from "./verdicts.ts";

/** Who the connecting server said it was, as SPF checks it. */
export interface SpfIdentity {
  /** The client IP; null when no trustworthy Cloudflare stamp said it. */
  ip: string | null;
  /** The HELO/EHLO name, checked for a null sender (RFC 7208 §2.3, §2.4). */
  helo: string | null;
  /** The envelope sender (MAIL FROM); "" for the null sender. */
  sender: string;
}

export interface SpfOutcome {
  result: AuthVerdict;
  /** The domain whose policy was checked: the MAIL FROM domain, or the HELO name for a null sender. */
  domain: string | null;
  /** The domain's own explanation (exp=) of a fail. */
  explanation?: string;
  comment?: string;
}

/** The name this gateway gives itself in SPF comments. */
const AUTHSERV_ID = "portcullis";

/**
 * SPF (RFC 7208) with mailauth: the MAIL FROM identity, or the HELO identity for a null sender.
 * mailauth enforces the 10-lookup and 2-void-lookup limits; `maxElapsedMs` bounds the whole
 * evaluation (temperror past it). Without a client IP there is nothing to check: `none`.
 *
 * @example
 * await checkSpf({ ip: "192.0.2.1", helo: "mx.example.net", sender: "a@example.net" }, dns.resolve) // { result: "pass", domain: "example.net" }
 */
export async function checkSpf(identity: SpfIdentity, resolver: MailauthResolver, maxElapsedMs?: number): Promise<SpfOutcome> {
  if (identity.ip === null) return { result: "none", domain: null, comment: "client IP unknown" };
  const sender = identity.sender.trim();
  if (sender === "" && (identity.helo === null || identity.helo.trim() === ""))
    return { result: "none", domain: null, comment: "null sender and no HELO name" };
  const response = await spf({
    ip: identity.ip,
    sender: sender === "" ? undefined : sender,
    helo: identity.helo ?? undefined,
    mta: AUTHSERV_ID,
    resolver,
    maxElapsedTime: maxElapsedMs === undefined ? undefined : Math.max(1, Math.floor(maxElapsedMs)),
  });
  const outcome: SpfOutcome = { result: toVerdict(response.status.result), domain: response.domain && response.domain !== "-" ? response.domain : null };
  if (response.explanation !== undefined) outcome.explanation = response.explanation;
  if (response.status.comment) outcome.comment = response.status.comment;
  return outcome;
}
