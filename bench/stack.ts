import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../scripts/ports.ts";

const root = path.resolve(import.meta.dirname, "..");
const bin = path.join(root, "node_modules", ".bin");
const READY = "Press Ctrl-C to stop.";
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
  const child: ChildProcess = spawn(
    path.join(bin, "node"),
    ["scripts/start.ts", "--edge-port", String(edgePort), "--hub-port", String(hubPort), "--state", state],
    {
      cwd: root,
      env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`, FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
  child.stderr!.on("data", (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (!output.includes(READY)) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start was not ready in time:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
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
      if (child.exitCode === null) child.kill("SIGINT");
      await exited;
      await rm(state, { recursive: true, force: true });
    },
  };
}
