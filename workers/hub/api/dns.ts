import { z } from "@hono/zod-openapi";
import { normaliseDomain } from "../../../shared/directory/address.ts";
import { checkDomainDns, DNS_CHECK_QUERY_TIMEOUT_MS } from "../../../shared/dns/check.ts";
import { DohResolver } from "../../../shared/dns/doh.ts";
import { getDomain } from "../db/domains.ts";
import { ApiError } from "./errors.ts";
import { ERRORS, failure, json, route, router } from "./openapi.ts";

/** GET /api/v1/domains/{domain}/dns: an accepted domain's mail DNS, checked live over DNS-over-HTTPS. */
export const dnsCheck = router();

const Status = z.enum(["pass", "warn", "fail", "error"]);

const DnsCheckSchema = z
  .object({
    check: z.enum(["mx", "spf", "dmarc", "mta-sts", "tls-rpt"]),
    name: z.string().openapi({ description: "The DNS name asked.", example: "_dmarc.example.com" }),
    type: z.string().openapi({ example: "TXT" }),
    status: Status.openapi({ description: "pass, warn (works, but should change), fail (broken or unsafe), error (the resolver gave no answer)." }),
    records: z.array(z.string()).openapi({ description: "The records that matter to the check, as found (TXT strings joined)." }),
    summary: z.string().openapi({ description: "What was found.", example: "One DMARC record, p=none. p=none only monitors: forged mail is still delivered." }),
    fix: z.string().nullable().openapi({ description: "What to change, in plain language; null when nothing needs to." }),
  })
  .openapi("DnsCheck");

const DnsReportSchema = z
  .object({
    domain: z.string().openapi({ example: "example.com" }),
    overall: z.enum(["pass", "warn", "fail", "unknown"]).openapi({
      description: "The worst check. `unknown`: the resolver could not answer some check and none failed — not a verdict on the domain.",
    }),
    checkedAt: z.string().openapi({ format: "date-time" }),
    checks: z.array(DnsCheckSchema),
  })
  .openapi("DnsReport");

const Params = z.object({
  domain: z
    .string()
    .openapi({ param: { name: "domain", in: "path" }, example: "example.com", description: "An accepted domain (any case, a trailing dot is ignored)." }),
});

dnsCheck.openapi(
  route("read-only", {
    method: "get",
    path: "/{domain}/dns",
    tags: ["Domains"],
    summary: "Check an accepted domain's mail DNS",
    description:
      "Asks the hub's DNS-over-HTTPS resolver (`DNS_OVER_HTTPS`), uncached, whether the domain's MX records point at Cloudflare Email Routing, and checks its SPF, DMARC, MTA-STS " +
      "(the `_mta-sts` record and the policy file at `https://mta-sts.<domain>/.well-known/mta-sts.txt`) and TLS-RPT records. Each check says what it found and, unless it passed, how to fix it. " +
      "A resolver that cannot be reached or does not answer makes a check `error` and the report `unknown`, still with status 200. Only accepted domains are checked (404 otherwise).",
    request: { params: Params },
    responses: { 200: json(DnsReportSchema, "The domain's DNS report"), ...ERRORS, 503: failure("DNS checks are turned off (DNS_OVER_HTTPS is empty)") },
  }),
  async (c) => {
    const name = normaliseDomain(c.req.valid("param").domain);
    if (name === null) throw new ApiError(400, "bad_request", "not a valid domain name");
    // Accepted domains only: an admin checks the domains this gateway serves, and a token cannot
    // make the hub look up (and fetch MTA-STS policies from) any name on the internet.
    if ((await getDomain(c.env.DB, name)) === null) {
      throw new ApiError(
        404,
        "not_found",
        `${name} is not an accepted domain. Accept it first, or check it from your own machine: portcullis dns-check --local ${name}`,
      );
    }
    const endpoint: string = c.env.DNS_OVER_HTTPS;
    if (endpoint === "") throw new ApiError(503, "not_configured", "DNS checks are turned off: set DNS_OVER_HTTPS to a DNS-over-HTTPS (JSON) endpoint.");
    // No cache: someone who just fixed a record wants to see the change, not an answer from before it.
    const resolver = new DohResolver({ endpoint, cache: null, timeoutMs: DNS_CHECK_QUERY_TIMEOUT_MS });
    return c.json(await checkDomainDns(name, resolver, { fetchPolicy: (url, init) => fetch(url, init) }), 200);
  },
);
