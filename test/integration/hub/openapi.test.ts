import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ROLES } from "../../../workers/hub/auth/roles.ts";

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean; schema?: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, unknown>;
  "x-portcullis-role"?: string;
}

interface Document {
  openapi: string;
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { type: string; scheme: string }> };
}

async function document(): Promise<Document> {
  const res = await exports.default.fetch(new Request("http://hub.test/api/v1/openapi.json"));
  expect(res.status).toBe(200);
  return (await res.json()) as Document;
}

function operations(doc: Document): { method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method, path, op })));
}

/** Every `$ref` anywhere in a value. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refs(v, out);
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe("the OpenAPI document", () => {
  it("is served without a token as OpenAPI 3.1, with a bearer security scheme and this hub as server", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.servers).toEqual([{ url: "http://hub.test" }]);
  });

  it("documents every admin route the README lists", async () => {
    const listed = new Set(operations(await document()).map((o) => `${o.method.toUpperCase()} ${o.path}`));
    const expected = [
      "GET /api/v1/domains",
      "GET /api/v1/domains/{domain}",
      "PUT /api/v1/domains/{domain}",
      "DELETE /api/v1/domains/{domain}",
      "POST /api/v1/recipients",
      "GET /api/v1/recipients",
      "GET /api/v1/recipients/{address}",
      "DELETE /api/v1/recipients/{address}",
      "GET /api/v1/edges",
      "PUT /api/v1/edges/{id}",
      "DELETE /api/v1/edges/{id}",
      "GET /api/v1/edges/{id}/recipients/{address}",
      "POST /api/v1/sync",
      "GET /api/v1/messages",
      "GET /api/v1/messages/{id}",
      "GET /api/v1/messages/{id}/raw",
      "GET /api/v1/onward",
      "GET /api/v1/onward/{id}",
      "POST /api/v1/onward/{id}/retry",
      "GET /api/v1/policies",
      "GET /api/v1/policies/{name}",
      "PUT /api/v1/policies/{name}",
      "DELETE /api/v1/policies/{name}",
      "GET /api/v1/hubs",
      "GET /api/v1/queues",
      "GET /api/v1/queues/{edge}",
      "GET /api/v1/queues/{edge}/{deliveryId}",
      "POST /api/v1/queues/{edge}/{deliveryId}/retry",
      "POST /api/v1/queues/{edge}/{deliveryId}/suspend",
      "POST /api/v1/queues/{edge}/{deliveryId}/resume",
      "DELETE /api/v1/queues/{edge}/{deliveryId}",
      "POST /api/v1/tokens",
      "GET /api/v1/tokens",
      "GET /api/v1/tokens/{id}",
      "DELETE /api/v1/tokens/{id}",
      "GET /api/v1/audit",
    ];
    for (const operation of expected) expect(listed, operation).toContain(operation);
  });

  it("gives every operation its role, the bearer scheme, a summary, and its success and auth responses", async () => {
    for (const { method, path, op } of operations(await document())) {
      const where = `${method} ${path}`;
      expect(ROLES, where).toContain(op["x-portcullis-role"]);
      expect(op.security, where).toEqual([{ bearer: [] }]);
      expect(op.summary?.length, where).toBeGreaterThan(0);
      expect(op.description, where).toContain(`**${op["x-portcullis-role"]}**`);
      expect(Object.keys(op.responses), where).toEqual(expect.arrayContaining(["401", "403"]));
      expect(
        Object.keys(op.responses).some((s) => s.startsWith("2")),
        where,
      ).toBe(true);
      for (const p of op.parameters?.filter((p) => p.in === "path") ?? []) expect(path, where).toContain(`{${p.name}}`);
    }
  });

  it("declares the request bodies, the recipient import as JSON and as streamed CSV", async () => {
    const doc = await document();
    expect(Object.keys(doc.paths["/api/v1/recipients"]!.post!.requestBody!.content).sort()).toEqual(["application/json", "text/csv"]);
    for (const [path, method] of [
      ["/api/v1/domains/{domain}", "put"],
      ["/api/v1/edges/{id}", "put"],
      ["/api/v1/policies/{name}", "put"],
      ["/api/v1/tokens", "post"],
      ["/api/v1/queues/{edge}/{deliveryId}", "delete"],
    ] as const) {
      expect(doc.paths[path]![method]!.requestBody?.content["application/json"], `${method} ${path}`).toBeDefined();
    }
    expect(doc.components.schemas.NewToken).toMatchObject({ required: expect.arrayContaining(["name", "role"]) });
    expect(doc.components.schemas["Policy.thresholds"]).toMatchObject({ type: "object" });
  });

  it("resolves every reference to a component", async () => {
    const doc = await document();
    for (const ref of refs(doc)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas, ref).toHaveProperty([ref.slice("#/components/schemas/".length)]);
    }
  });

  it("describes lists with limit and cursor, answered with nextCursor", async () => {
    const doc = await document();
    const list = doc.paths["/api/v1/domains"]!.get!;
    expect(list.parameters?.map((p) => p.name).sort()).toEqual(["cursor", "limit"]);
    expect(list.parameters?.find((p) => p.name === "limit")?.schema).toMatchObject({ type: "integer", minimum: 1, maximum: 500 });
    expect(doc.components.schemas.DomainList).toMatchObject({ properties: { nextCursor: expect.anything() } });
  });
});

describe("the interactive docs page", () => {
  async function page(): Promise<{ res: Response; html: string }> {
    const res = await exports.default.fetch(new Request("http://hub.test/api/v1/docs"));
    return { res, html: await res.text() };
  }

  it("is served without a token, as one self-contained page that loads nothing from elsewhere", async () => {
    const { res, html } = await page();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'nonce-[0-9a-f]{32}'/);
    expect(csp).toMatch(/connect-src 'self'/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/@import|url\(/);
    const nonce = /'nonce-([0-9a-f]+)'/.exec(csp)![1];
    expect(html.match(/<script[^>]*>/g)).toEqual([`<script nonce="${nonce}">`]);
  });

  it("shows every operation with its role, parameters, schemas, a curl command and a try-it form", async () => {
    const doc = await document();
    const { html } = await page();
    for (const { method, path, op } of operations(doc)) {
      const id = `op-${method}-${path.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "")}`;
      const start = html.indexOf(`<section class="op" id="${id}">`);
      expect(start, `${method} ${path}`).toBeGreaterThan(0);
      const section = html.slice(start, html.indexOf("</section>", start));
      expect(section).toContain(
        `<span class="method ${method}">${method.toUpperCase()}</span> <code>${path}</code> <span class="role">${op["x-portcullis-role"]}</span>`,
      );
      expect(section).toContain("Authorization: Bearer $TOKEN");
      expect(section).toContain(
        // Admin routes live under /api/v1, except /metrics, where Prometheus looks.
        method === "get" ? `curl -sS &#39;http://hub.test/${path.split("/")[1]}` : `curl -sS -X ${method.toUpperCase()} &#39;http://hub.test/api/v1/`,
      );
      expect(section).toContain(`<form class="try" data-method="${method.toUpperCase()}" data-path="${path}">`);
      for (const p of op.parameters ?? []) expect(section).toContain(`<code>${p.name}</code>`);
      expect(section).toContain("<h4>Responses</h4>");
      if (op.requestBody !== undefined) expect(section).toMatch(/<h4>Request body/);
    }
    // Schemas are listed once, and linked from the operations.
    expect(html).toContain('<section id="schema-Domain"><h3>Domain</h3>');
    expect(html).toContain('<a href="#schema-Domain">Domain</a>');
  });

  it("shows a ready-to-paste curl with an example body for a change", async () => {
    const { html } = await page();
    expect(html).toContain(
      "curl -sS -X POST &#39;http://hub.test/api/v1/tokens&#39; \\\n  -H &quot;Authorization: Bearer $TOKEN&quot; \\\n  -H &#39;content-type: application/json&#39; \\\n  --data-binary &#39;{&quot;name&quot;:&quot;monitoring&quot;,&quot;role&quot;:&quot;read-only&quot;,&quot;expiresAt&quot;:&quot;2027-01-01T00:00:00Z&quot;}&#39;",
    );
    expect(html).toContain("--data-binary &#39;[{&quot;address&quot;:&quot;carol@example.com&quot;}]&#39;");
  });

  it("keeps the token the user types in sessionStorage only", async () => {
    const { html } = await page();
    expect(html).toContain('<input id="token" type="password"');
    expect(html).toContain("sessionStorage.setItem(KEY, value)");
    expect(html).not.toContain("localStorage");
    expect(html).not.toContain("document.cookie");
  });

  it("escapes what it shows", async () => {
    const { html } = await page();
    // Descriptions hold quotes and angle brackets (e.g. the bearer description); none leaks into markup.
    expect(html).not.toMatch(/<token>/);
    expect(html).toContain("Authorization: Bearer &lt;token&gt;");
  });
});
