import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { DnsReport } from "../../../shared/dns/check.ts";
import { app, openApiDocument } from "../../../workers/hub/app.ts";
import { api } from "./helpers.ts";
import { issueToken } from "./tokens-helpers.ts";

/**
 * GET /api/v1/domains/{domain}/dns against the fake DNS-over-HTTPS server and MTA-STS policy hosts
 * of dns-fixtures.ts (the hub project's DNS_OVER_HTTPS points there).
 */

async function report(domain: string, token?: string | null): Promise<{ status: number; body: DnsReport }> {
  const res = await api(`/api/v1/domains/${domain}/dns`, { token });
  return { status: res.status, body: (await res.json()) as DnsReport };
}

/** Calls the hub with another DNS_OVER_HTTPS, as a deployment configured so would run. */
async function withResolver(endpoint: string, path: string): Promise<Response> {
  const ctx = createExecutionContext();
  const vars = { ...env, DNS_OVER_HTTPS: endpoint } as unknown as Env;
  const res = await app.fetch(new Request(`https://hub.example${path}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }), vars, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const statuses = (body: DnsReport) => Object.fromEntries(body.checks.map((c) => [c.check, c.status]));

beforeAll(async () => {
  for (const domain of ["dns-good.test", "dns-broken.test", "dns-nothing.test", "dns.servfail.test", "dns.hang.test"]) {
    const res = await api(`/api/v1/domains/${domain}`, { method: "PUT" });
    expect([200, 201]).toContain(res.status);
  }
});

describe("GET /api/v1/domains/{domain}/dns", () => {
  it("passes a domain set up for Email Routing, with its MTA-STS policy fetched and checked", async () => {
    const { status, body } = await report("DNS-Good.test.");
    expect(status).toBe(200);
    expect(body.domain).toBe("dns-good.test");
    expect(body.overall).toBe("pass");
    expect(statuses(body)).toEqual({ mx: "pass", spf: "pass", dmarc: "pass", "mta-sts": "pass", "tls-rpt": "pass" });
    expect(body.checks.find((c) => c.check === "mx")?.records).toEqual([
      "86 route1.mx.cloudflare.net",
      "4 route2.mx.cloudflare.net",
      "24 route3.mx.cloudflare.net",
    ]);
    expect(body.checks.find((c) => c.check === "mta-sts")?.summary).toContain("policy mode enforce, mx *.mx.cloudflare.net");
    expect(Date.parse(body.checkedAt)).not.toBeNaN();
  });

  it("fails a broken domain, with a fix for each problem", async () => {
    const { status, body } = await report("dns-broken.test");
    expect(status).toBe(200);
    expect(body.overall).toBe("fail");
    expect(statuses(body)).toEqual({ mx: "fail", spf: "fail", dmarc: "warn", "mta-sts": "warn", "tls-rpt": "warn" });
    const mx = body.checks.find((c) => c.check === "mx")!;
    expect(mx.summary).toMatch(/point elsewhere \(mx\.mailhost\.example\)/);
    expect(mx.fix).toMatch(/Email Routing/);
    expect(body.checks.find((c) => c.check === "spf")!.fix).toMatch(/Merge them into one TXT record/);
    expect(body.checks.find((c) => c.check === "dmarc")!.fix).toMatch(/p=quarantine/);
  });

  it("fails an accepted domain with no mail records at all", async () => {
    const { body } = await report("dns-nothing.test");
    expect(body.overall).toBe("fail");
    expect(statuses(body)).toMatchObject({ mx: "fail", spf: "fail" });
  });

  it("reports a resolver that answers SERVFAIL as error, and the domain as unknown", async () => {
    const { status, body } = await report("dns.servfail.test");
    expect(status).toBe(200);
    expect(body.overall).toBe("unknown");
    expect(Object.values(statuses(body))).toEqual(["error", "error", "error", "error", "error"]);
    expect(body.checks[0]!.summary).toMatch(/resolver could not be reached or did not answer .*SERVFAIL/);
  });

  it("reports a resolver that does not answer in time as error, not as a failed domain", async () => {
    const started = Date.now();
    const { status, body } = await report("dns.hang.test");
    expect(status).toBe(200);
    expect(body.overall).toBe("unknown");
    expect(body.checks.every((c) => c.status === "error" && /timed out/.test(c.summary))).toBe(true);
    // The questions are asked at once: one time limit, not five.
    expect(Date.now() - started).toBeLessThan(6_500);
  });

  it("reports a resolver that cannot be reached as error, and the domain as unknown", async () => {
    const res = await withResolver("https://unreachable.test/dns-query", "/api/v1/domains/dns-good.test/dns");
    expect(res.status).toBe(200);
    const body = (await res.json()) as DnsReport;
    expect(body.overall).toBe("unknown");
    // unreachable.test refuses the connection; Miniflare hands the worker that as an HTTP 500.
    expect(body.checks.every((c) => c.status === "error" && /could not be reached or did not answer \(DNS query for .*: HTTP 500\)/.test(c.summary))).toBe(
      true,
    );
    expect(body.checks[0]!.fix).toMatch(/check the resolver/);
  });

  it("answers 503 when DNS checks are turned off", async () => {
    const res = await withResolver("", "/api/v1/domains/dns-good.test/dns");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { code: "not_configured", message: expect.stringMatching(/set DNS_OVER_HTTPS/) } });
  });

  it("answers 404 for a domain that is not accepted, pointing at the local check", async () => {
    const res = await api("/api/v1/domains/not-accepted.test/dns");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        code: "not_found",
        message:
          "not-accepted.test is not an accepted domain. Accept it first, or check it from your own machine: portcullis dns-check --local not-accepted.test",
      },
    });
  });

  it("answers 400 for a name that is not a domain", async () => {
    const res = await api("/api/v1/domains/not_a%20domain!/dns");
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: "bad_request", message: "not a valid domain name" } });
  });

  it("needs a token, and the read-only role is enough", async () => {
    expect((await api("/api/v1/domains/dns-good.test/dns", { token: null })).status).toBe(401);
    expect((await api("/api/v1/domains/dns-good.test/dns", { token: "pc_not-a-token" })).status).toBe(401);
    const readOnly = await issueToken("read-only", { name: "dns reader" });
    const { status, body } = await report("dns-good.test", readOnly.token);
    expect(status).toBe(200);
    expect(body.overall).toBe("pass");
  });

  it("is in the OpenAPI document with its role and report schema", () => {
    const operation = openApiDocument().paths?.["/api/v1/domains/{domain}/dns"]?.get as Record<string, unknown> | undefined;
    expect(operation).toMatchObject({ "x-portcullis-role": "read-only", tags: ["Domains"] });
    expect(openApiDocument().components?.schemas).toHaveProperty("DnsReport");
  });
});
