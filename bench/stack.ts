import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { launchStack } from "../scripts/launch.ts";
import { freePort } from "../scripts/ports.ts";

const root = path.resolve(import.meta.dirname, "..");
/** How long the stack may take to come up. */
const STARTUP_TIMEOUT_MS = 180_000;

/** A running `npm start` stack on free ports with its own state folder. */
export interface Stack {
  edge: string;
  hub: string;
  admin(method: string, apiPath: string, body?: BodyInit, contentType?: string): Promise<Response>;
  sendMail(from: string, to: string): Promise<Response>;
  stop(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const edgePort = await freePort();
  let hubPort = await freePort();
  while (hubPort === edgePort) hubPort = await freePort();
  const state = await mkdtemp(path.join(tmpdir(), "portcullis-bench-"));
  const launched = await launchStack({ edgePort, hubPort, state, timeoutMs: STARTUP_TIMEOUT_MS });
  const token = /ADMIN_TOKEN=(\S+)/.exec(await readFile(path.join(root, "workers/hub/.dev.vars"), "utf8"))![1]!;
  const edge = `http://localhost:${edgePort}`;
  const hub = `http://localhost:${hubPort}`;
  const message = (to: string) =>
    `From: sender@example.net\r\nTo: ${to}\r\nSubject: bench\r\nMessage-ID: <${crypto.randomUUID()}@example.net>\r\n\r\nbench\r\n`;
  return {
    edge,
    hub,
    admin: (method, apiPath, body, contentType) =>
      fetch(`${hub}/api/v1${apiPath}`, {
        method,
        body,
        headers: { authorization: `Bearer ${token}`, ...(contentType === undefined ? {} : { "content-type": contentType }) },
        ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
      } as RequestInit),
    sendMail: (from, to) => fetch(`${edge}/cdn-cgi/local/email?${new URLSearchParams({ from, to })}`, { method: "POST", body: message(to) }),
    async stop() {
      await launched.stop();
      await rm(state, { recursive: true, force: true });
    },
  };
}
