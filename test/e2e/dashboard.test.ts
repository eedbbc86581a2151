import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi } from "../../scripts/admin-api.ts";
import { launchStack, type LaunchedStack } from "../../scripts/launch.ts";
import { freePort } from "../../scripts/ports.ts";
import { launchChromium, type LaunchedBrowser } from "./browser.ts";

/**
 * The operator dashboard in a real browser: the `npm start` stack on free ports, mail sent through
 * the edge (accepted, rejected, quarantined, spooled), then headless Chromium signs in with the
 * stack's admin token, visits every page, acts on the spool and the quarantine through the
 * buttons, and tries forged form posts. A screenshot of each page goes to SCREENSHOTS.
 */
const root = path.resolve(import.meta.dirname, "../..");
const SCREENSHOTS = process.env.PORTCULLIS_SCREENSHOTS ?? path.join(tmpdir(), "portcullis-dashboard-screenshots");

const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
const HOSTILE_SUBJECT = '<script>alert("quarantine")</script> Quarantine me';

function message(subject: string, body: string, messageId = `<${crypto.randomUUID()}@example.net>`): string {
  return [
    "From: Sender <sender@example.net>",
    "To: alice@example.com",
    `Subject: ${subject}`,
    "Date: Sat, 21 Nov 2026 09:00:00 +0000",
    `Message-ID: ${messageId}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    body,
    "",
  ].join("\r\n");
}

describe("the dashboard in headless Chromium", () => {
  let stack: LaunchedStack | undefined;
  let browser: LaunchedBrowser | undefined;
  let state: string;
  let edge: string;
  let hub: string;
  let token: string;
  let page: Page;
  /** What the browser reported that it should not have: dialogs (a script ran), CSP violations, page errors. */
  const problems: string[] = [];
  const acceptedMessageId = `<${crypto.randomUUID()}@example.net>`;

  const admin = <T>(method: string, apiPath: string, body?: unknown): Promise<T> => adminApi<T>(hub, token, method, apiPath, body);
  const send = (to: string, raw: string): Promise<Response> =>
    fetch(`${edge}/cdn-cgi/local/email?${new URLSearchParams({ from: "sender@example.net", to })}`, { method: "POST", body: raw });
  /** A policy change, pushed to the edge before the next message. */
  const policy = async (name: string, body: unknown | null): Promise<void> => {
    await (body === null ? admin("DELETE", `/policies/${name}`) : admin("PUT", `/policies/${name}`, body));
    await admin("POST", "/sync");
  };
  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    const edgePort = await freePort();
    let hubPort = await freePort();
    while (hubPort === edgePort) hubPort = await freePort();
    state = await mkdtemp(path.join(tmpdir(), "portcullis-e2e-dashboard-"));
    stack = await launchStack({ edgePort, hubPort, state, timeoutMs: 150_000 });
    edge = `http://localhost:${edgePort}`;
    hub = `http://localhost:${hubPort}`;
    token = /^ADMIN_TOKEN=(\S+)$/m.exec(await readFile(path.join(root, "workers/hub/.dev.vars"), "utf8"))![1]!;
    await rm(SCREENSHOTS, { recursive: true, force: true });
    await mkdir(SCREENSHOTS, { recursive: true });

    // Mail through the edge: accepted, refused (unknown recipient; GTUBE is SCL 9, above the reject threshold) …
    expect((await send("alice@example.com", message("Hello Alice", "Plain mail.", acceptedMessageId))).status).toBe(200);
    expect((await send("bob@example.com", message("Hello Bob", "Plain mail."))).status).toBe(200);
    expect((await send("nobody@example.com", message("Nobody", "Plain mail."))).status).toBe(400);
    expect((await send("alice@example.com", message("Test spam", GTUBE))).status).toBe(400);
    // … quarantined (every SCL quarantines while this policy holds) …
    await policy("thresholds", { reject: 9, quarantine: 0, tag: 0 });
    expect((await send("alice@example.com", message(HOSTILE_SUBJECT, "Quarantine body: release me."))).status).toBe(200);
    await policy("thresholds", null);
    // … and spooled: the only hub is one the edge cannot reach, so the message waits in its spool.
    await policy("hubs", [{ id: "offline", transport: "binding", binding: "NO_SUCH_HUB", priority: 0, weight: 1, maxConcurrency: 10 }]);
    expect((await send("bob@example.com", message("Spool me", "Waiting for a hub."))).status).toBe(200);

    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on("dialog", (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (stack !== undefined && stack.child.exitCode === null) await stack.stop().catch(() => stack?.child.kill("SIGKILL"));
    await rm(state, { recursive: true, force: true });
  });

  it("signs in through the login form with the stack's admin token", async () => {
    await page.goto(`${hub}/`);
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(await page.locator('form[action="/login"] input[name="_csrf"]').getAttribute("value")).toMatch(/^[\w-]{20,}$/);
    await shot("01-login");
    await page.fill('input[name="token"]', "not-the-token");
    await page.click('button[type="submit"]');
    await expect(page.locator(".error").textContent()).resolves.toContain("That token was not accepted.");
    await page.fill('input[name="token"]', token);
    await page.click('button[type="submit"]');
    expect(new URL(page.url()).pathname).toBe("/");
    expect(await page.locator("h1").textContent()).toBe("Overview");
    const cookies = await browser!.context.cookies(hub);
    expect(cookies.find((c) => c.name === "portcullis-session")).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    expect(cookies.some((c) => c.value.includes(token))).toBe(false);
  });

  it("overview: the mail flow chart has bars for what was just sent, the edge has converged, the hubs are listed", async () => {
    // Tracking events reach the hub through a queue in batches: wait for every outcome's bar.
    const deadline = Date.now() + 30_000;
    for (;;) {
      await page.goto(`${hub}/`);
      const bars = await page.locator("svg.flow-chart rect.bar").evaluateAll((rects) => rects.map((r) => r.getAttribute("data-series")));
      if (["accepted", "rejected", "quarantined", "spooled"].every((s) => bars.includes(s))) break;
      if (Date.now() > deadline) throw new Error(`the chart's bars are ${JSON.stringify(bars)}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const counts = await page
      .locator("svg.flow-chart rect.bar")
      .evaluateAll((rects) =>
        rects.reduce<Record<string, number>>(
          (sum, r) => ({ ...sum, [r.getAttribute("data-series")!]: (sum[r.getAttribute("data-series")!] ?? 0) + Number(r.getAttribute("data-count")) }),
          {},
        ),
      );
    expect(counts.accepted).toBeGreaterThanOrEqual(2);
    expect(counts.rejected).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#edges tr[data-edge="edge-local"]').textContent()).toContain("converged");
    expect(await page.locator('#hubs tr[data-hub="offline"]').count()).toBe(1);
    expect(await page.locator('#spools tr[data-edge="edge-local"]').textContent()).toMatch(/edge-local\s*1/);
    await shot("02-overview");
  });

  it("queues: the spooled message is suspended, resumed and deleted with a reason through the buttons", async () => {
    await page.goto(`${hub}/queues?edge=edge-local&state=queued`);
    const row = page.locator("#spool tr[data-delivery]", { hasText: "Spool me" });
    expect(await row.count()).toBe(1);
    await shot("03-queues");
    await row.locator('button[data-action="suspend"]').click();
    expect(await page.locator(".notice").textContent()).toBe("The message was suspended.");
    expect(new URL(page.url()).searchParams.get("state")).toBe("queued");

    await page.goto(`${hub}/queues?edge=edge-local&state=suspended`);
    await page.locator("#spool tr[data-delivery]", { hasText: "Spool me" }).locator('button[data-action="resume"]').click();
    expect(await page.locator(".notice").textContent()).toContain("resumed");

    await page.goto(`${hub}/queues?edge=edge-local&state=queued`);
    const queued = page.locator("#spool tr[data-delivery]", { hasText: "Spool me" });
    await queued.locator("summary").click();
    await queued.locator('input[name="reason"]').fill("test message, not needed");
    await queued.locator('button[data-action="delete"]').click();
    expect(await page.locator(".notice").textContent()).toContain("deleted");
    await page.goto(`${hub}/queues?edge=edge-local&state=deleted`);
    expect(await page.locator("#spool tr[data-delivery]", { hasText: "Spool me" }).textContent()).toContain("test message, not needed");
  });

  it("quarantine: the message is listed with its subject as text, previewed as text, and released", async () => {
    await page.goto(`${hub}/quarantine`);
    const row = page.locator("#quarantine tr[data-message]", { hasText: "Quarantine me" });
    expect(await row.count()).toBe(1);
    expect(await row.textContent()).toContain('<script>alert("quarantine")</script>');
    expect(await page.locator("script").count()).toBe(0);
    await shot("04-quarantine");

    await row.locator("a.preview").click();
    expect(await page.locator("pre.preview-text").textContent()).toContain("Quarantine body: release me.");
    expect(await page.locator("script").count()).toBe(0);
    await shot("05-quarantine-preview");
    await page.locator('button[data-action="release"]').click();
    expect(await page.locator(".notice").textContent()).toContain("released");
    expect(await page.locator("#quarantine tr[data-message]", { hasText: "Quarantine me" }).count()).toBe(0);
    const inbox = await admin<{ items: { subject: string }[] }>("GET", "/messages?folder=inbox");
    expect(inbox.items.map((m) => m.subject)).toContain(HOSTILE_SUBJECT);
  });

  it("trace: a search by Message-ID finds the message's events, and its delivery page shows what the hub stored", async () => {
    await page.goto(`${hub}/trace`);
    await page.fill('input[name="messageId"]', acceptedMessageId);
    await page.click('form.search button[type="submit"]');
    const rows = page.locator("#events tr[data-event]");
    expect(await rows.count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#events tr[data-outcome="accepted"]').count()).toBe(1);
    await shot("06-trace");
    await page.locator('#events tr[data-outcome="accepted"] a').click();
    expect(await page.locator("#stored").textContent()).toContain("Hello Alice");
    expect(await page.locator("#timeline tr[data-event]").count()).toBeGreaterThanOrEqual(1);
    await shot("07-trace-delivery");
  });

  it("recipients: a prefix finds alice@, and the edge says it would accept her", async () => {
    await page.goto(`${hub}/recipients`);
    await page.fill('input[name="q"]', "ali");
    await page.click('form.search button[type="submit"]');
    const row = page.locator('#results tr[data-recipient="alice@example.com"]');
    expect(await row.count()).toBe(1);
    await row.locator("a").click();
    expect(await page.locator('#lookup tr[data-edge="edge-local"][data-address="alice@example.com"]').textContent()).toContain("accepted");
    await shot("08-recipients");
  });

  it("refuses a form posted without the CSRF token, and one posted from another origin", async () => {
    const path = `/queues/edge-local/${crypto.randomUUID()}/retry`;
    await page.goto(`${hub}/queues`);
    const csrf = await page.locator('input[name="_csrf"]').first().getAttribute("value");
    const post = async (action: string, fields: Record<string, string>) =>
      Promise.all([
        page.waitForNavigation(),
        page.evaluate(
          ([target, values]) => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = target;
            for (const [name, value] of Object.entries(values)) {
              const input = document.createElement("input");
              input.type = "hidden";
              input.name = name;
              input.value = value;
              form.append(input);
            }
            document.body.append(form);
            form.submit();
          },
          [action, fields] as const,
        ),
      ]);
    const [missing] = await post(path, {});
    expect(missing?.status()).toBe(403);
    expect(await page.locator(".error").textContent()).toContain("security token");
    await shot("09-csrf-refused");

    // Another origin (the edge, on the same machine) with the right token: the Origin check refuses it.
    await page.goto(`${edge}/healthz`);
    const [foreign] = await post(`${hub}${path}`, { _csrf: csrf! });
    expect(foreign?.status()).toBe(403);
    expect(await page.locator(".error").textContent()).toContain("not sent from the dashboard's own pages");
  });

  it("signs out, and nothing in the browser ran a script or broke the Content-Security-Policy", async () => {
    await page.goto(`${hub}/`);
    await page.click('form[action="/logout"] button');
    expect(new URL(page.url()).pathname).toBe("/login");
    await page.goto(`${hub}/queues`);
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(problems).toEqual([]);
  });
});
