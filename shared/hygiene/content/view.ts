import type { Email } from "postal-mime";
import { CONTENT_HTML_SCAN_MAX_CHARS, CONTENT_TEXT_SCAN_MAX_CHARS } from "../../limits.ts";
import { type HtmlScan, scanHtml } from "./html.ts";
import { collectUrls, type UrlInfo } from "./urls.ts";

const HAS_DOT = /dot/i;

/**
 * The parts of a parsed message the content filter reads, computed once and shared by the
 * tokenizer and the rules: the decoded text (cut at a limit), one pass over the HTML, the URLs,
 * and the top-level headers by name. Attachments' content is not read here.
 */
export interface MessageView {
  email: Email;
  /** The decoded plain text (postal-mime's text, derived from the HTML when there is no text part), cut. */
  text: string;
  /** The HTML body's scan, or null when the message has none. */
  html: HtmlScan | null;
  /** The HTML body's visible text, cut like `text` ("" without HTML). */
  htmlText: string;
  urls: UrlInfo[];
  /** Whether `text` has "dot" in it, in any case: rules that look for spelled-out dots ask first. */
  textHasDot: boolean;
  /** Top-level header values by lower-case name, in order. */
  headers: HeaderIndex;
}

/**
 * Top-level header values by lower-case name, in order, looked up when asked for: the rules and
 * the tokenizer read a handful of names out of the dozens of fields a message has.
 *
 * @example
 * new HeaderIndex(email.headers).get("date") // ["Sat, 21 Nov 2026 09:00:00 +0000"]
 */
export class HeaderIndex {
  readonly #headers: Email["headers"];
  readonly #found = new Map<string, string[] | undefined>();

  constructor(headers: Email["headers"]) {
    this.#headers = headers;
  }

  /** The values of every field of that name (lower case), or undefined when there is none. */
  get(name: string): string[] | undefined {
    if (this.#found.has(name)) return this.#found.get(name);
    let values: string[] | undefined;
    for (const h of this.#headers) if (h.key === name) (values ??= []).push(h.value);
    this.#found.set(name, values);
    return values;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}

/**
 * @example
 * const view = messageView(email);
 * view.urls.map((u) => u.host) // ["example.com", …]
 */
export function messageView(email: Email): MessageView {
  const raw = email.text ?? "";
  const text = raw.length > CONTENT_TEXT_SCAN_MAX_CHARS ? raw.slice(0, CONTENT_TEXT_SCAN_MAX_CHARS) : raw;
  const html = email.html === undefined || email.html === "" ? null : scanHtml(email.html, CONTENT_HTML_SCAN_MAX_CHARS);
  // Links only: image sources say how a message is laid out, not where it sends the reader.
  const hrefs = html === null ? [] : html.links.map((l) => l.href);
  const headers = new HeaderIndex(email.headers);
  const htmlText = html === null ? "" : html.text.slice(0, CONTENT_TEXT_SCAN_MAX_CHARS);
  return { email, text, html, htmlText, urls: collectUrls(text, hrefs), headers, textHasDot: HAS_DOT.test(text) };
}
