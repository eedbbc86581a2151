import type { Agent } from "../types.ts";
import { attachmentFilter } from "./attachment-filter.ts";
import { authentication } from "./authentication.ts";
import { connectionFilter } from "./connection-filter.ts";
import { contentFilter } from "./content-filter.ts";
import { limits } from "./limits.ts";
import { malware } from "./malware.ts";
import { recipientFilter } from "./recipient-filter.ts";
import { senderFilter } from "./sender-filter.ts";

/**
 * The agents in the order they run: cheapest first, grouped by phase. Envelope agents run before
 * the message is parsed, so a relay attempt, an unknown recipient or a blocked IP costs no parse.
 */
export const AGENTS: readonly Agent[] = [
  // envelope
  limits,
  connectionFilter,
  recipientFilter,
  // headers
  senderFilter,
  authentication,
  // body — malware first, so a virus is reported as one (554) rather than as a blocked attachment;
  // both read the same inspection of the message's files, built once.
  malware,
  attachmentFilter,
  // last: it reads the authentication results and the attachment flags, and is the most expensive
  contentFilter,
];
