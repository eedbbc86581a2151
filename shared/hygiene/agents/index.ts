import type { Agent } from "../types.ts";
import { limits } from "./limits.ts";
import { recipientFilter } from "./recipient-filter.ts";

/**
 * The agents in the order they run: cheapest first, grouped by phase. Envelope agents run before
 * the message is parsed, so a relay attempt or unknown recipient costs no parse.
 */
export const AGENTS: readonly Agent[] = [limits, recipientFilter];
