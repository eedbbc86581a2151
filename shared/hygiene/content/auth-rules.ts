import type { ContentRule } from "./rule.ts";

/**
 * Rules over the authentication agent's results. Each reads `auth`, which is null when the
 * authentication agent has not run (offline, or ordered after this agent); then none fires.
 * Passing results add nothing: spammers authenticate their own domains too.
 */
export const AUTH_RULES: readonly ContentRule[] = [
  {
    name: "AUTH_SPF_FAIL",
    score: 1,
    description: "SPF fail: the sending server is not one the envelope sender's domain authorises.",
    test: ({ auth }) => (auth?.spf.result === "fail" ? `spf=fail ${auth.spf.domain ?? ""}`.trim() : null),
  },
  {
    name: "AUTH_SPF_SOFTFAIL",
    score: 0.5,
    description: "SPF softfail (~all): the domain says the server is probably not authorised.",
    test: ({ auth }) => (auth?.spf.result === "softfail" ? `spf=softfail ${auth.spf.domain ?? ""}`.trim() : null),
  },
  {
    name: "AUTH_DKIM_FAIL",
    score: 1,
    description: "A DKIM signature failed to verify and no other signature passed: the message was altered or the signature forged.",
    test: ({ auth }) => {
      if (auth === null || !auth.dkim.some((d) => d.result === "fail") || auth.dkim.some((d) => d.result === "pass")) return null;
      return `dkim=fail ${auth.dkim.find((d) => d.result === "fail")?.domain ?? ""}`.trim();
    },
  },
  {
    name: "AUTH_DMARC_FAIL",
    score: 2,
    description: "DMARC fail: neither SPF nor DKIM passed aligned with the From: domain, so the visible sender is unproven.",
    test: ({ auth }) => (auth?.dmarc.result === "fail" ? `dmarc=fail ${auth.dmarc.domain ?? ""}`.trim() : null),
  },
];
