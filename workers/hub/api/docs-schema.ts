/**
 * Rendering pieces of the interactive API docs: JSON Schemas as readable, linked HTML, example
 * values built from them, and the text helpers the page uses. Pure functions over the OpenAPI
 * document; everything that comes from it is escaped.
 */

/** A JSON Schema or reference, as the OpenAPI 3.1 document holds it (loosely: the docs only read it). */
export type Schema = { [key: string]: unknown };
export type Components = Record<string, Schema>;

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text as HTML: every markup character escaped (also safe inside quoted attributes). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

/**
 * The little Markdown the route descriptions use: `code` and **bold**, on escaped text; blank
 * lines separate paragraphs.
 */
export function inlineMarkdown(text: string): string {
  return text
    .split(/\n{2,}/)
    .map(
      (para) =>
        `<p>${escapeHtml(para)
          .replace(/`([^`]+)`/g, "<code>$1</code>")
          .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")}</p>`,
    )
    .join("");
}

/** The component a `$ref` names (`#/components/schemas/Name` → `Name`), or null. */
export function refName(schema: unknown): string | null {
  if (typeof schema !== "object" || schema === null) return null;
  const ref = (schema as Schema).$ref;
  return typeof ref === "string" && ref.startsWith("#/components/schemas/") ? ref.slice("#/components/schemas/".length) : null;
}

/** An anchor id for a component schema. */
export function schemaAnchor(name: string): string {
  return `schema-${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

function indent(level: number): string {
  return "  ".repeat(level);
}

/**
 * A schema as pretty-printed JSON in HTML, with every `$ref` turned into a link to its component.
 *
 * @example
 * schemaHtml({ $ref: "#/components/schemas/Domain" }) // '<a href="#schema-Domain">Domain</a>'
 */
export function schemaHtml(value: unknown, level = 0): string {
  const name = refName(value);
  if (name !== null) return `<a href="#${schemaAnchor(name)}">${escapeHtml(name)}</a>`;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => indent(level + 1) + schemaHtml(v, level + 1)).join(",\n")}\n${indent(level)}]`;
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    const lines = entries.map(([k, v]) => `${indent(level + 1)}${escapeHtml(JSON.stringify(k))}: ${schemaHtml(v, level + 1)}`);
    return `{\n${lines.join(",\n")}\n${indent(level)}}`;
  }
  return escapeHtml(JSON.stringify(value) ?? "null");
}

/** Longest chain of references an example follows, so a recursive schema cannot loop. */
const MAX_EXAMPLE_DEPTH = 6;

/**
 * An example value for a schema: its own `example` when it has one, otherwise one built from its
 * properties (required ones only, plus any with examples), the first of a union, a placeholder per
 * type.
 */
export function exampleFor(schema: unknown, components: Components, depth = 0): unknown {
  if (typeof schema !== "object" || schema === null || depth > MAX_EXAMPLE_DEPTH) return null;
  const name = refName(schema);
  if (name !== null) return exampleFor(components[name], components, depth + 1);
  const s = schema as Schema;
  if ("example" in s) return s.example;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if ("default" in s) return s.default;
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  for (const key of ["oneOf", "anyOf", "allOf"]) {
    const options = s[key];
    if (Array.isArray(options) && options.length > 0) return exampleFor(options[0], components, depth + 1);
  }
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  switch (type) {
    case "object": {
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
      const out: Record<string, unknown> = {};
      for (const [key, prop] of Object.entries(properties)) {
        if (required.has(key) || (typeof prop === "object" && prop !== null && "example" in prop)) out[key] = exampleFor(prop, components, depth + 1);
      }
      return out;
    }
    case "array":
      return [exampleFor(s.items, components, depth + 1)];
    case "integer":
    case "number":
      return typeof s.minimum === "number" ? s.minimum : 0;
    case "boolean":
      return false;
    case "string":
      return s.format === "date-time" ? "2026-11-21T09:00:00Z" : "string";
    default:
      return null;
  }
}

/** A short type label for a parameter's schema: `integer`, `"a" | "b"`, `string (date-time)`. */
export function typeLabel(schema: unknown): string {
  if (typeof schema !== "object" || schema === null) return "any";
  const s = schema as Schema;
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  const type = Array.isArray(s.type) ? s.type.join(" | ") : typeof s.type === "string" ? s.type : (refName(s) ?? "any");
  const bounds = [typeof s.minimum === "number" ? `≥ ${s.minimum}` : "", typeof s.maximum === "number" ? `≤ ${s.maximum}` : ""].filter(Boolean).join(", ");
  const format = typeof s.format === "string" ? s.format : typeof s.pattern === "string" ? `pattern ${s.pattern}` : "";
  return [type, format, bounds].filter(Boolean).join(", ");
}

/** A value inside single quotes for a POSIX shell. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
