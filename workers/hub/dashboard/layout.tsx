import type { Context } from "hono";
import { html } from "hono/html";
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import type { HtmlEscapedString } from "hono/utils/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type Role, roleAllows } from "../auth/roles.ts";
import type { Session } from "./session.ts";

/** The pages in the navigation bar, in order. */
const NAV = [
  { key: "overview", href: "/", label: "Overview" },
  { key: "queues", href: "/queues", label: "Queues" },
  { key: "quarantine", href: "/quarantine", label: "Quarantine" },
  { key: "trace", href: "/trace", label: "Message trace" },
  { key: "recipients", href: "/recipients", label: "Recipients" },
] as const;

export type NavKey = (typeof NAV)[number]["key"];

const CSS = `
:root { color-scheme: light; --fg: #1d232a; --muted: #5d6875; --line: #d8dde3; --bg: #f6f7f9; --accent: #1f5fbf; --bad: #b3261e; --ok: #1e7b34; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.2rem; background: #14202e; color: #fff; }
header .brand { font-weight: 700; letter-spacing: .02em; }
header nav { display: flex; gap: .2rem; flex: 1; }
header nav a { color: #c9d6e6; text-decoration: none; padding: .3rem .6rem; border-radius: 4px; }
header nav a[aria-current="page"] { background: #2b3f57; color: #fff; }
header .who { color: #c9d6e6; display: flex; gap: .6rem; align-items: center; }
main { padding: 1.2rem; max-width: 1280px; margin: 0 auto; }
h1 { font-size: 1.35rem; margin: 0 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.6rem 0 .6rem; }
section.card > h2:first-child, section.card > h1:first-child { margin-top: 0; }
section.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1rem; margin-bottom: 1rem; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
pre.preview { white-space: pre-wrap; word-break: break-word; background: #fbfbfc; border: 1px solid var(--line); padding: .8rem; max-height: 40rem; overflow: auto; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 9px; font-size: 12px; border: 1px solid currentColor; }
.good { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); } .muted { color: var(--muted); }
.notice { padding: .6rem .8rem; border-radius: 4px; margin-bottom: 1rem; background: #e7f3ea; border: 1px solid #b6dbbf; }
.error { padding: .6rem .8rem; border-radius: 4px; margin-bottom: 1rem; background: #fbeaea; border: 1px solid #efc2bf; }
form.inline { display: inline; }
form.search { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; }
label { display: flex; flex-direction: column; gap: .2rem; font-size: 12px; color: var(--muted); }
input[type=text], input[type=password], input[type=datetime-local], select { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 4px; min-width: 14rem; }
button { font: inherit; padding: .3rem .7rem; border-radius: 4px; border: 1px solid #9aa7b5; background: #fff; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--bad); border-color: var(--bad); }
details { display: inline-block; }
details form { display: flex; gap: .3rem; margin-top: .3rem; }
.legend { display: flex; gap: 1rem; flex-wrap: wrap; margin-top: .4rem; font-size: 12px; }
.legend i { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: -1px; }
.sw-accepted { background: #2e7d32; } .sw-rejected { background: #c62828; } .sw-quarantined { background: #ef8f00; } .sw-spooled { background: #1f5fbf; } .sw-tempfailed { background: #8e5bb5; }
.login { max-width: 26rem; margin: 4rem auto; }
.login form { display: flex; flex-direction: column; gap: .8rem; }
.login input { width: 100%; }
`;

interface ShellProps {
  title: string;
  nonce: string | undefined;
}

/** The HTML document: one nonce'd style element, no script. */
const Shell: FC<PropsWithChildren<ShellProps>> = ({ title, nonce, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${title} · Portcullis`}</title>
      <style nonce={nonce}>{CSS}</style>
    </head>
    <body>{children}</body>
  </html>
);

/** A hidden CSRF field, for every form that changes something. */
export const Csrf: FC<{ token: string }> = ({ token }) => <input type="hidden" name="_csrf" value={token} />;

export interface PageProps {
  title: string;
  active: NavKey | null;
  session: Session;
  csrf: string;
  nonce: string | undefined;
  notice?: string | null;
  error?: string | null;
}

/** A signed-in page: navigation, who is signed in (and in which role), sign-out, then the content. */
export const Page: FC<PropsWithChildren<PageProps>> = ({ title, active, session, csrf, nonce, notice, error, children }) => (
  <Shell title={title} nonce={nonce}>
    <header>
      <span class="brand">Portcullis</span>
      <nav>
        {NAV.map((item) => (
          <a href={item.href} aria-current={item.key === active ? "page" : undefined}>
            {item.label}
          </a>
        ))}
      </nav>
      <span class="who">
        <span data-role={session.role}>{`${session.name} (${session.role})`}</span>
        <form class="inline" method="post" action="/logout">
          <Csrf token={csrf} />
          <button type="submit">Sign out</button>
        </form>
      </span>
    </header>
    <main>
      <h1>{title}</h1>
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {children}
    </main>
  </Shell>
);

/** A page without a session: the login form and errors met before signing in. */
export const Bare: FC<PropsWithChildren<{ title: string; nonce: string | undefined }>> = ({ title, nonce, children }) => (
  <Shell title={title} nonce={nonce}>
    <main class="login">{children}</main>
  </Shell>
);

/** Renders its children only for a session whose role allows `role` (read-only users see no action buttons). */
export const IfRole: FC<PropsWithChildren<{ session: Session; role: Role }>> = ({ session, role, children }) => (
  <>{roleAllows(session.role, role) ? children : null}</>
);

/** An ISO time as `2026-11-21 07:58:31Z` (UTC, like every time the hub stores), or a dash. */
export function when(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined || iso === "") return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : `${d.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/** A byte count as B, KiB or MiB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A coloured badge for a state word. */
export const Badge: FC<{ tone: "good" | "bad" | "warn" | "muted"; children: Child }> = ({ tone, children }) => <span class={`badge ${tone}`}>{children}</span>;

/** Answers with a whole HTML document. */
export function render(c: Context, node: HtmlEscapedString | Promise<HtmlEscapedString>, status: ContentfulStatusCode = 200): Response | Promise<Response> {
  return c.html(html`<!DOCTYPE html>${node}`, status);
}
