import type { AuthVerdict } from "../types.ts";

const VERDICTS = new Set<AuthVerdict>(["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy"]);

/** A result word from mailauth (or from Cloudflare's Authentication-Results) as an {@link AuthVerdict}; anything unknown is `neutral`. */
export function toVerdict(result: string | undefined): AuthVerdict {
  const word = (result ?? "").trim().toLowerCase();
  return VERDICTS.has(word as AuthVerdict) ? (word as AuthVerdict) : "neutral";
}
