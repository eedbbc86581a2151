/** A link in an HTML body: where it goes and the text the reader sees. */
export interface HtmlLink {
  /** The attribute value as written (href of a/area, action of form); entities decoded. */
  href: string;
  /** Visible text of an `<a>`, collapsed and cut; "" for other tags. */
  text: string;
}

/** What one pass over an HTML body yields. */
export interface HtmlScan {
  /** The visible text: tags and comments removed, script/style dropped, common entities decoded. */
  text: string;
  /** Lower-case names of the tags seen (a, img, font, table, …). */
  tags: Set<string>;
  links: HtmlLink[];
  /** Image sources (src of img), entities decoded. */
  images: string[];
}

/** Longest tag read; a longer one is cut there (attribute values past it are not needed). */
const MAX_TAG_CHARS = 4096;
/** Visible text kept per link, enough to see whether it shows a domain. */
const MAX_LINK_TEXT_CHARS = 300;
/** Links and images kept per message; past it, further ones are not recorded. */
const MAX_LINKS = 200;

/** Tags after which a browser breaks the line; inline tags (b, font, span) join text without a space. */
const BLOCK_TAGS = new Set([
  "br",
  "p",
  "div",
  "td",
  "th",
  "tr",
  "li",
  "ul",
  "ol",
  "table",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "hr",
  "blockquote",
  "center",
  "title",
  "option",
]);

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/** Decodes the entities that matter for reading words and URLs: named basics and numeric ones. */
export function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});?/gi, (match, entity: string) => {
    if (entity[0] !== "#") return ENTITIES[entity.toLowerCase()] ?? match;
    const code = entity[1] === "x" || entity[1] === "X" ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
    return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : " ";
  });
}

/** The value of attribute `name` in a tag's text, or null. Reads forward only (linear in the tag). */
function attribute(tag: string, name: string): string | null {
  const lower = tag.toLowerCase();
  for (let at = lower.indexOf(name); at !== -1; at = lower.indexOf(name, at + name.length)) {
    if (at > 0 && !/[\s/"']/.test(lower[at - 1]!)) continue;
    let i = at + name.length;
    while (i < tag.length && /\s/.test(tag[i]!)) i++;
    if (tag[i] !== "=") continue;
    i++;
    while (i < tag.length && /\s/.test(tag[i]!)) i++;
    const quote = tag[i];
    let value: string;
    if (quote === '"' || quote === "'") {
      const close = tag.indexOf(quote, i + 1);
      value = tag.slice(i + 1, close === -1 ? tag.length : close);
    } else {
      const m = /^[^\s>]*/.exec(tag.slice(i, i + MAX_TAG_CHARS));
      value = m === null ? "" : m[0];
    }
    return decodeEntities(value.trim());
  }
  return null;
}

/**
 * One linear pass over at most `maxChars` of an HTML body: visible text, tag names, links with
 * their text, image sources. Every search moves forward (indexOf from the current position), so
 * unclosed tags or comments cannot make it quadratic the way backtracking regular expressions do.
 *
 * @example
 * scanHtml('<a href="http://a.example/">http://b.example/</a>', 1000).links // [{ href: "http://a.example/", text: "http://b.example/" }]
 */
export function scanHtml(html: string, maxChars: number): HtmlScan {
  const source = html.length > maxChars ? html.slice(0, maxChars) : html;
  const parts: string[] = [];
  const tags = new Set<string>();
  const links: HtmlLink[] = [];
  const images: string[] = [];
  let anchor: HtmlLink | null = null;
  let skipUntil: string | null = null; // inside <script> or <style>
  let pos = 0;
  while (pos < source.length) {
    const lt = source.indexOf("<", pos);
    const end = lt === -1 ? source.length : lt;
    if (end > pos && skipUntil === null) {
      const chunk = source.slice(pos, end);
      parts.push(chunk);
      if (anchor !== null && anchor.text.length < MAX_LINK_TEXT_CHARS) anchor.text += chunk.slice(0, MAX_LINK_TEXT_CHARS - anchor.text.length);
    }
    if (lt === -1) break;
    if (source.startsWith("<!--", lt)) {
      // A comment joins the text around it: "V<!-- x -->iagra" reads "Viagra".
      const close = source.indexOf("-->", lt + 4);
      if (close === -1) break;
      pos = close + 3;
      continue;
    }
    const gt = source.indexOf(">", lt + 1);
    if (gt === -1) break;
    pos = gt + 1;
    const tag = source.slice(lt + 1, Math.min(gt, lt + 1 + MAX_TAG_CHARS));
    const nameMatch = /^(\/?)([a-z][a-z0-9]*)/i.exec(tag);
    if (nameMatch === null) continue;
    const closing = nameMatch[1] === "/";
    const name = nameMatch[2]!.toLowerCase();
    if (skipUntil !== null) {
      if (closing && name === skipUntil) skipUntil = null;
      continue;
    }
    tags.add(name);
    if (BLOCK_TAGS.has(name)) parts.push("\n");
    if (closing) {
      if (name === "a") anchor = null;
      continue;
    }
    if (name === "script" || name === "style") skipUntil = name;
    else if ((name === "a" || name === "area" || name === "form") && links.length < MAX_LINKS) {
      const href = attribute(tag, name === "form" ? "action" : "href");
      if (href !== null) {
        const link = { href, text: "" };
        links.push(link);
        anchor = name === "a" ? link : null;
      }
    } else if (name === "img" && images.length < MAX_LINKS) {
      const src = attribute(tag, "src");
      if (src !== null) images.push(src);
    }
  }
  for (const link of links) link.text = decodeEntities(link.text).replace(/\s+/g, " ").trim();
  return { text: decodeEntities(parts.join("")), tags, links, images };
}
