import type { Context } from "hono";
import type { HubEnv } from "../app.ts";
import { type Components, escapeHtml, exampleFor, inlineMarkdown, type Schema, schemaAnchor, schemaHtml, shellQuote, typeLabel } from "./docs-schema.ts";
import { DOCS_SCRIPT } from "./docs-script.ts";
import { ROLE_EXTENSION } from "./openapi.ts";

/**
 * GET /api/v1/docs: the admin API's documentation as one self-contained page, rendered on the
 * server from the OpenAPI document — no CDN, no framework, nothing fetched but the API itself, so
 * it works on machines without internet access. Every operation shows its role, parameters,
 * request and response schemas, a curl command to paste, and a small form to try it with a token
 * that stays in the browser tab (sessionStorage).
 */

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
}

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { description?: string; required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
  [ROLE_EXTENSION]?: string;
}

/** The parts of an OpenAPI document the page reads. */
export interface ApiDocument {
  info: { title: string; description?: string };
  paths?: Record<string, Record<string, Operation> | undefined>;
  components?: { schemas?: Components };
}

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

interface Entry {
  method: string;
  path: string;
  op: Operation;
  id: string;
}

function operations(doc: ApiDocument): Entry[] {
  const out: Entry[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item?.[method];
      if (op !== undefined) out.push({ method, path, op, id: `op-${method}-${path.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "")}` });
    }
  }
  return out;
}

/** A parameter's documented example (or default, or first allowed value); empty when it has none. */
function exampleParam(p: Parameter): string {
  const s = p.schema ?? {};
  const value = "example" in s ? s.example : "default" in s ? s.default : Array.isArray(s.enum) ? s.enum[0] : undefined;
  return value === null || value === undefined ? "" : String(value);
}

/** The curl command for an operation, with example values, the page's own origin and $TOKEN. */
export function curlFor(e: Entry, origin: string, components: Components): string {
  let path = e.path;
  const query: string[] = [];
  for (const p of e.op.parameters ?? []) {
    const value = exampleParam(p);
    if (p.in === "path") path = path.replace(`{${p.name}}`, encodeURIComponent(value || p.name));
    else if (p.in === "query" && p.required === true) query.push(`${encodeURIComponent(p.name)}=${encodeURIComponent(value)}`);
  }
  const lines = [
    `curl -sS${e.method === "get" ? "" : ` -X ${e.method.toUpperCase()}`} ${shellQuote(`${origin}${path}${query.length > 0 ? `?${query.join("&")}` : ""}`)}`,
  ];
  lines.push(`-H "Authorization: Bearer $TOKEN"`);
  const content = e.op.requestBody?.content ?? {};
  if ("application/json" in content) {
    lines.push(
      `-H 'content-type: application/json'`,
      `--data-binary ${shellQuote(JSON.stringify(exampleFor(content["application/json"]!.schema, components)))}`,
    );
  } else if ("text/csv" in content) {
    lines.push(`-H 'content-type: text/csv'`, "--data-binary @recipients.csv");
  }
  return lines.join(" \\\n  ");
}

function parametersHtml(e: Entry): string {
  const params = e.op.parameters ?? [];
  if (params.length === 0) return "";
  const rows = params
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required === true ? "yes" : "no"}</td><td>${escapeHtml(typeLabel(p.schema))}</td><td>${inlineMarkdown(p.description ?? "")}</td></tr>`,
    )
    .join("");
  return `<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>required</th><th>type</th><th>description</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function bodyHtml(e: Entry): string {
  const body = e.op.requestBody;
  if (body === undefined) return "";
  const media = Object.entries(body.content ?? {})
    .map(([type, m]) => `<div><code>${escapeHtml(type)}</code><pre>${schemaHtml(m.schema ?? {})}</pre></div>`)
    .join("");
  return `<h4>Request body${body.required === true ? "" : " (optional)"}</h4>${inlineMarkdown(body.description ?? "")}${media}`;
}

function responsesHtml(e: Entry): string {
  const rows = Object.entries(e.op.responses ?? {})
    .map(([status, r]) => {
      const schemas = Object.entries(r.content ?? {})
        .map(([type, m]) => `<details><summary><code>${escapeHtml(type)}</code></summary><pre>${schemaHtml(m.schema ?? {})}</pre></details>`)
        .join("");
      return `<tr><td><code>${escapeHtml(status)}</code></td><td>${escapeHtml(r.description ?? "")}${schemas}</td></tr>`;
    })
    .join("");
  return `<h4>Responses</h4><table><tbody>${rows}</tbody></table>`;
}

function tryHtml(e: Entry, components: Components): string {
  const inputs = (e.op.parameters ?? [])
    .filter((p) => p.in === "path" || p.in === "query")
    .map((p) => {
      const placeholder = exampleParam(p);
      return `<label>${escapeHtml(p.name)}${p.required === true ? " *" : ""} <input name="${escapeHtml(p.name)}" data-in="${escapeHtml(p.in)}" placeholder="${escapeHtml(placeholder)}"${p.in === "path" ? ` value="${escapeHtml(placeholder)}"` : ""}></label>`;
    })
    .join("");
  const content = e.op.requestBody?.content ?? {};
  const types = Object.keys(content);
  let body = "";
  if (types.length > 0) {
    const first = types[0]!;
    const example =
      first === "text/csv"
        ? String(exampleFor(content[first]!.schema, components) ?? "")
        : JSON.stringify(exampleFor(content[first]!.schema, components), null, 2);
    const select =
      types.length > 1
        ? `<select name="contentType">${types.map((t) => `<option>${escapeHtml(t)}</option>`).join("")}</select>`
        : `<input type="hidden" name="contentType" value="${escapeHtml(first)}">`;
    body = `<label class="body">body ${select}<textarea name="body" rows="6" spellcheck="false">${escapeHtml(example)}</textarea></label>`;
  }
  return `<form class="try" data-method="${e.method.toUpperCase()}" data-path="${escapeHtml(e.path)}"><h4>Try it</h4>${inputs}${body}<button type="submit">Send ${escapeHtml(e.method.toUpperCase())}</button><output></output></form>`;
}

function operationHtml(e: Entry, origin: string, components: Components): string {
  const role = e.op[ROLE_EXTENSION] ?? "public";
  return `<section class="op" id="${e.id}">
<h3><span class="method ${e.method}">${e.method.toUpperCase()}</span> <code>${escapeHtml(e.path)}</code> <span class="role">${escapeHtml(role)}</span></h3>
<p class="summary">${escapeHtml(e.op.summary ?? "")}</p>
${inlineMarkdown(e.op.description ?? "")}
${parametersHtml(e)}${bodyHtml(e)}${responsesHtml(e)}
<h4>curl</h4><pre class="curl">${escapeHtml(curlFor(e, origin, components))}</pre>
${tryHtml(e, components)}
</section>`;
}

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d232b;background:#fbfbfc}
header,main{max-width:1100px;margin:0 auto;padding:0 1.25rem}
header{padding-top:1rem}
nav ul{columns:2;padding-left:1.2rem}
.token{position:sticky;top:0;background:#fbfbfc;padding:.6rem 0;border-bottom:1px solid #dde1e6;z-index:1}
.token input{width:28rem;max-width:70%;font-family:ui-monospace,monospace}
.op{border:1px solid #dde1e6;border-radius:6px;background:#fff;padding:.3rem 1rem 1rem;margin:1.2rem 0}
.method{display:inline-block;min-width:4.2rem;text-align:center;border-radius:4px;color:#fff;font-size:.85rem;padding:.05rem .4rem}
.get{background:#2f6f4f}.post{background:#1f5fa8}.put{background:#8a5a00}.delete{background:#a32a2a}.patch{background:#5b3f99}
.role{font-size:.8rem;border:1px solid #8a94a0;border-radius:10px;padding:0 .5rem;margin-left:.4rem}
pre{background:#f2f4f6;padding:.6rem;overflow:auto;font-size:.82rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}td p{margin:0}td,th{border-top:1px solid #e5e8ec;padding:.25rem .4rem;text-align:left;vertical-align:top}
form.try{border-top:1px dashed #c5ccd3;margin-top:.8rem}
form.try label{display:inline-block;margin:.2rem .8rem .2rem 0}
form.try label.body{display:block}form.try textarea{display:block;width:100%;font-family:ui-monospace,monospace}
output{display:block;white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:.82rem;margin-top:.5rem}
`;

/** The whole page; `nonce` allows its own style and script under the page's Content-Security-Policy. */
export function renderDocs(doc: ApiDocument, origin: string, nonce: string): string {
  const components = doc.components?.schemas ?? {};
  const entries = operations(doc);
  const tags = [...new Set(entries.map((e) => e.op.tags?.[0] ?? "Other"))];
  const sections = tags
    .map((tag) => {
      const ops = entries.filter((e) => (e.op.tags?.[0] ?? "Other") === tag);
      return `<h2 id="tag-${escapeHtml(tag.replace(/\W+/g, "-"))}">${escapeHtml(tag)}</h2>${ops.map((e) => operationHtml(e, origin, components)).join("\n")}`;
    })
    .join("\n");
  const toc = entries
    .map((e) => `<li><a href="#${e.id}">${e.method.toUpperCase()} ${escapeHtml(e.path)}</a> — ${escapeHtml(e.op.summary ?? "")}</li>`)
    .join("");
  const schemas = Object.entries(components)
    .map(([name, s]) => `<section id="${schemaAnchor(name)}"><h3>${escapeHtml(name)}</h3><pre>${schemaHtml(s)}</pre></section>`)
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(doc.info.title)}</title><style nonce="${nonce}">${STYLE}</style></head>
<body><header><h1>${escapeHtml(doc.info.title)}</h1>${inlineMarkdown(doc.info.description ?? "")}
<p>Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1). Roles, lowest first: <strong>read-only</strong> (every GET), <strong>operator</strong> (queue and quarantine actions, sync, onward retry), <strong>admin</strong> (configuration, tokens, audit log).</p></header>
<main><div class="token"><label>Token <input id="token" type="password" autocomplete="off" placeholder="pc_… — kept in this tab only (sessionStorage)"></label> <button type="button" id="forget">Forget</button></div>
<nav><h2>Operations</h2><ul>${toc}</ul></nav>
${sections}
<h2 id="schemas">Schemas</h2>
${schemas}
</main><script nonce="${nonce}">${DOCS_SCRIPT}</script></body></html>`;
}

/** The docs page as a response, with a policy that lets it run nothing but its own inline script and talk to nothing but this hub. */
export function docsPage(c: Context<HubEnv>, doc: object): Response {
  const nonce = crypto.randomUUID().replace(/-/g, "");
  c.header(
    "Content-Security-Policy",
    `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`,
  );
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "no-referrer");
  c.header("Cache-Control", "no-cache");
  return c.html(renderDocs(doc as ApiDocument, new URL(c.req.url).origin, nonce));
}
