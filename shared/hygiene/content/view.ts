import type { Email } from "postal-mime";
import { CONTENT_HTML_SCAN_MAX_CHARS, CONTENT_TEXT_SCAN_MAX_CHARS } from "../../limits.ts";
import { type HtmlScan, scanHtml } from "./html.ts";
import { collectUrls, type UrlInfo } from "./urls.ts";

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
  /** Top-level header values by lower-case name, in order. */
  headers: Map<string, string[]>;
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
  const headers = new Map<string, string[]>();
  for (const h of email.headers) {
    const list = headers.get(h.key);
    if (list === undefined) headers.set(h.key, [h.value]);
    else list.push(h.value);
  }
  const htmlText = html === null ? "" : html.text.slice(0, CONTENT_TEXT_SCAN_MAX_CHARS);
  return { email, text, html, htmlText, urls: collectUrls(text, hrefs), headers };
}
