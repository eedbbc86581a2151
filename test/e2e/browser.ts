import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/**
 * Headless Chromium for the end-to-end tests: the system's browser (Debian: `apt-get install -y
 * chromium`), driven by playwright-core, which never downloads a browser of its own. Each launch
 * gets a fresh profile in a temporary folder, removed on close.
 */
export const CHROMIUM = process.env.PORTCULLIS_CHROMIUM ?? "/usr/bin/chromium";

/** No GPU, no sandbox (containers), and nothing that talks to the network on its own. */
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];

export interface LaunchedBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<LaunchedBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: apt-get install -y chromium (or set PORTCULLIS_CHROMIUM)`);
  const profile = await mkdtemp(path.join(tmpdir(), "portcullis-chromium-"));
  // launchPersistentContext passes the profile as --user-data-dir and adds --headless.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
