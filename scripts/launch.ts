import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const bin = path.join(root, "node_modules", ".bin");

/** The line `npm start` prints once the stack is up. */
export const READY = "Press Ctrl-C to stop.";

/** The file in the state folder that lists the stack's worker processes. */
export const PROCESSES_FILE = "processes.json";

/** Output kept from the stack: enough for the banner and the last errors, bounded however long it runs. */
const OUTPUT_TAIL_CHARS = 64 * 1024;

/** How long the stack may take to stop after Ctrl-C before that is an error. */
const STOP_TIMEOUT_MS = 30_000;

/** How long a worker may take to die (kill) or to come back and answer its health URL (restart). */
const CONTROL_TIMEOUT_MS = 150_000;

/** One worker process of the stack, as <state>/processes.json lists it. */
export interface WorkerProcess {
  /** hub, edge, edge-2 …, hub-standby. */
  key: string;
  /** The worker's name (dev registry). */
  worker: string;
  /** Its `wrangler dev` process, leader of a process group that includes workerd. */
  pid: number | null;
  running: boolean;
  port: number;
  url: string;
  health: string;
  /** `command args…` in `cwd`, with `env` over the environment, starts it again. */
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

/** A request to the stack over its IPC channel, and its answer. */
export interface WorkerControl {
  id: number;
  op: "kill" | "restart";
  key: string;
}
export interface WorkerControlReply {
  id: number;
  ok: boolean;
  error?: string;
}

/** What the banner says: URLs, the admin token and the published directory. */
export interface StackBanner {
  /** Every edge, the Email Routing target first. */
  edges: { id: string; url: string }[];
  /** The hub's origin, and its admin API. */
  hub: string;
  api: string;
  token: string;
  /** The standby hub's origin (with --standby). */
  standby?: string;
  directory: { version: number; edgeId: string; recipients: number };
}

/** A `npm start` stack (scripts/start.ts) run by a test or a benchmark. */
export interface LaunchedStack {
  child: ChildProcess;
  state: string;
  /** The banner of the latest start, parsed. */
  banner: StackBanner;
  /** The last OUTPUT_TAIL_CHARS of its stdout and stderr. */
  output(): string;
  /** <state>/processes.json: every worker process. */
  processes(): WorkerProcess[];
  /** Ctrl-C, then its exit code. */
  stop(): Promise<number | null>;
}

export interface LaunchOptions {
  edgePort: number;
  hubPort: number;
  state: string;
  timeoutMs: number;
  /** How many edges (default 1); the first listens on edgePort, the others on edgePorts or the next free ports. */
  edges?: number;
  edgePorts?: number[];
  /** Also a standby hub (portcullis-hub-standby) on standbyPort (default 8790). */
  standby?: boolean;
  standbyPort?: number;
}

/** Reads the banner scripts/start.ts prints. */
export function parseBanner(output: string): StackBanner {
  const start = output.lastIndexOf("Portcullis is running.");
  const text = output.slice(start);
  const field = (label: string): string | undefined => new RegExp(`^\\s*${label}\\s+(\\S+)`, "m").exec(text)?.[1];
  const first = field("Edge \\(Email Routing target\\)");
  const api = field("Hub and admin API");
  const token = field("Admin token");
  const directory = /^\s*Directory\s+version (\d+) at (\S+), (\d+) addresses/m.exec(text);
  if (start < 0 || first === undefined || api === undefined || token === undefined || directory === null)
    throw new Error(`no banner in the output:\n${output}`);
  const others = [...text.matchAll(/^\s*Edge (edge-\S+)\s+(\S+)\s*$/gm)].map((m) => ({ id: m[1]!, url: m[2]! }));
  const standby = field("Standby hub");
  return {
    edges: [{ id: directory[2]!, url: first }, ...others],
    hub: new URL(api).origin,
    api,
    token,
    ...(standby === undefined ? {} : { standby }),
    directory: { version: Number(directory[1]), edgeId: directory[2]!, recipients: Number(directory[3]) },
  };
}

/** Starts scripts/start.ts on these ports and state folder, on the project's Node, and waits for its banner. */
export async function launchStack(options: LaunchOptions): Promise<LaunchedStack> {
  const args = ["scripts/start.ts", "--edge-port", String(options.edgePort), "--hub-port", String(options.hubPort), "--state", options.state];
  if (options.edges !== undefined) args.push("--edges", String(options.edges));
  if (options.edgePorts !== undefined) args.push("--edge-ports", [options.edgePort, ...options.edgePorts].join(","));
  if (options.standby === true) args.push("--standby");
  if (options.standbyPort !== undefined) args.push("--standby-port", String(options.standbyPort));
  const child = spawn(path.join(bin, "node"), args, {
    cwd: root,
    env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`, FORCE_COLOR: "0" },
    // The IPC channel carries killWorker/restartWorker requests.
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let output = "";
  const collect = (c: Buffer): void => {
    output = (output + c.toString()).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + options.timeoutMs;
  while (!output.includes(READY)) {
    if (child.exitCode !== null) throw new Error(`npm start exited early (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGINT");
      throw new Error(`npm start was not ready in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    child,
    state: options.state,
    banner: parseBanner(output),
    output: () => output,
    processes: () => JSON.parse(readFileSync(path.join(options.state, PROCESSES_FILE), "utf8")) as WorkerProcess[],
    stop: () => {
      if (child.exitCode === null) child.kill("SIGINT");
      return Promise.race([
        exited,
        new Promise<number | null>((_, fail) => setTimeout(() => fail(new Error("npm start did not stop after SIGINT")), STOP_TIMEOUT_MS)),
      ]);
    },
  };
}

let nextControlId = 1;

function control(stack: LaunchedStack, op: WorkerControl["op"], key: string): Promise<void> {
  const id = nextControlId++;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${op} ${key}: no answer from the stack within ${CONTROL_TIMEOUT_MS / 1000} s`)), CONTROL_TIMEOUT_MS);
    const onMessage = (reply: WorkerControlReply): void => {
      if (reply.id !== id) return;
      finish(reply.ok ? undefined : new Error(`${op} ${key}: ${reply.error ?? "failed"}`));
    };
    const onExit = (): void => finish(new Error(`${op} ${key}: the stack exited`));
    function finish(err: Error | undefined): void {
      clearTimeout(timer);
      stack.child.off("message", onMessage);
      stack.child.off("exit", onExit);
      if (err === undefined) resolve();
      else reject(err);
    }
    stack.child.on("message", onMessage);
    stack.child.once("exit", onExit);
    stack.child.send({ id, op, key } satisfies WorkerControl);
  });
}

/**
 * Kills one worker's processes (wrangler and workerd) with SIGKILL, as a crash would; the rest of
 * the stack keeps running. Resolves once the process is gone and its port is free.
 */
export function killWorker(stack: LaunchedStack, key: string): Promise<void> {
  return control(stack, "kill", key);
}

/**
 * Starts one worker again (killing it first if it still runs) with the same command, port and
 * state; resolves once its health URL answers. The stack's stop() stops it like the others.
 */
export function restartWorker(stack: LaunchedStack, key: string): Promise<void> {
  return control(stack, "restart", key);
}
