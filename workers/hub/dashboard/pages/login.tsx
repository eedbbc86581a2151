import { Hono } from "hono";
import { tokenHolder } from "../auth.ts";
import { action, currentSession, type DashboardEnv, noStore, pageHeaders, readForm, readFormFields, sameOrigin } from "../guard.ts";
import { Bare, Csrf, render } from "../layout.tsx";
import { MAX_FIELD_CHARS } from "../limits.ts";
import { endLoginForm, endSession, loginFormValid, startLoginForm, startSession } from "../session.ts";
import { hubLog } from "../../../../shared/log.ts";

/** Where to go after signing in: a path on this site only (never `//host` or a full URL), and never back to the login page. */
export function safeNext(raw: string | undefined): string {
  if (raw === undefined || raw.length > MAX_FIELD_CHARS || !/^\/(?![/\\])[^\s\\]*$/.test(raw) || raw.startsWith("/login")) return "/";
  return raw;
}

function LoginForm({ csrf, next, error, nonce }: { csrf: string; next: string; error: string | null; nonce: string | undefined }) {
  return (
    <Bare title="Sign in" nonce={nonce}>
      <section class="card">
        <h1>Portcullis</h1>
        <p class="muted">
          Sign in with an admin API token. The token is checked like any API request and is not kept: the session cookie only says which role it had.
        </p>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <form method="post" action="/login">
          <Csrf token={csrf} />
          <input type="hidden" name="next" value={next} />
          <label>
            API token
            <input type="password" name="token" autocomplete="off" required autofocus />
          </label>
          <button class="primary" type="submit">
            Sign in
          </button>
        </form>
      </section>
    </Bare>
  );
}

/** /login and /logout. */
export function loginRoutes(): Hono<DashboardEnv> {
  const r = new Hono<DashboardEnv>();

  r.get("/login", pageHeaders, noStore, async (c) => {
    const next = safeNext(c.req.query("next"));
    if ((await currentSession(c)) !== null) return c.redirect(next, 303);
    return render(c, <LoginForm csrf={await startLoginForm(c)} next={next} error={null} nonce={c.var.secureHeadersNonce} />);
  });

  r.post("/login", pageHeaders, noStore, sameOrigin, readForm, async (c) => {
    const form = await readFormFields(c);
    const next = safeNext(form.next);
    const again = async (status: 401 | 403, error: string) =>
      render(c, <LoginForm csrf={await startLoginForm(c)} next={next} error={error} nonce={c.var.secureHeadersNonce} />, status);
    if (!(await loginFormValid(c, form._csrf))) return again(403, "The sign-in form expired or was not sent from this page. Try again.");
    const holder = await tokenHolder(c.env, c.executionCtx, (form.token ?? "").trim());
    if (holder === null) return again(401, "That token was not accepted.");
    endLoginForm(c);
    await startSession(c, holder);
    hubLog(c.env.HUB_ID).info("dashboard_login", { token: holder.id, role: holder.role });
    return c.redirect(next, 303);
  });

  r.post("/logout", action("read-only"), (c) => {
    endSession(c);
    return c.redirect("/login", 303);
  });

  return r;
}
