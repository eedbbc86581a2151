/**
 * The `wrangler dev` processes of a local stack (scripts/start.ts): start, kill one, restart one,
 * stop all, and <state>/processes.json, which lists them.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PROCESSES_FILE, type WorkerProcess } from "./launch.ts";
import type { LocalWorker } from "./local-workers.ts";
import { freePort, portFree } from "./ports.ts";

/** How long children get to exit after Ctrl-C (and a killed worker's port to close) before they are killed. */
const SHUTDOWN_GRACE_MS = 5_000;

export interface WorkerProcessesOptions {
  root: string;
  /** wrangler's path. */
  wrangler: string;
  state: string;
  /** What the children's environment sets over this process's (kept in processes.json). */
  env: Record<string, string>;
  /** A worker exited by itself; `all` when it was the last one running. */
  onExit(worker: LocalWorker, how: string, all: boolean): void;
}

interface Running {
  worker: LocalWorker;
  child: ChildProcess;
  args: string[];
  /** Killed on purpose (killWorker): not a failure. */
  expectExit: boolean;
}

const alive = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

export class WorkerProcesses {
  readonly #options: WorkerProcessesOptions;
  readonly #running = new Map<string, Running>();
  /** Every process ever started, restarted ones too: stop() signals them all. */
  readonly #children: ChildProcess[] = [];
  #stopping = false;
  /** Before start-up succeeds output is collected (printed if it fails); afterwards streamed with a prefix. */
  streaming = false;
  readonly startupLog: string[] = [];

  constructor(options: WorkerProcessesOptions) {
    this.#options = options;
  }

  /** Starts `wrangler dev` for one worker in its own process group (stopping it also stops workerd). */
  async start(worker: LocalWorker): Promise<void> {
    const { root, wrangler, state, env } = this.#options;
    // A killed worker (killWorker, or a stack that was itself killed) cannot withdraw its
    // dev-registry entry, and a new process does not replace an entry younger than 90 s: the other
    // workers would go on calling the dead one until then. Its ports are free, so the entry is stale.
    rmSync(path.join(env.WRANGLER_REGISTRY_PATH!, worker.worker), { force: true });
    const inspector = await freePort();
    const args = [
      "dev",
      "-c",
      worker.config,
      ...worker.envFiles.flatMap((f) => ["--env-file", f]),
      "--port",
      String(worker.port),
      "--inspector-port",
      String(inspector),
      "--persist-to",
      state,
      "--show-interactive-dev-session=false",
      "--log-level",
      "log",
    ];
    const child = spawn(wrangler, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    this.#children.push(child);
    const entry: Running = { worker, child, args, expectExit: false };
    this.#running.set(worker.key, entry);
    const forward = (chunk: Buffer): void => {
      for (const line of chunk.toString("utf8").split(/\r?\n/)) {
        if (line.trim() === "") continue;
        if (this.streaming) console.log(`[${worker.key}] ${line}`);
        else this.startupLog.push(`[${worker.key}] ${line}`);
      }
    };
    child.stdout?.on("data", forward);
    child.stderr?.on("data", forward);
    child.on("exit", (code, signal) => {
      if (this.#stopping) return;
      this.writeList();
      if (entry.expectExit) return;
      this.#options.onExit(
        worker,
        signal ?? `code ${code}`,
        [...this.#running.values()].every((r) => !alive(r.child)),
      );
    });
    this.writeList();
  }

  #entry(key: string): Running {
    const entry = this.#running.get(key);
    if (entry === undefined) throw new Error(`no worker "${key}" (known: ${[...this.#running.keys()].join(", ")})`);
    return entry;
  }

  /** SIGKILLs one worker's process group, as a crash would, and waits until it is gone and its port free. */
  async kill(key: string): Promise<void> {
    const entry = this.#entry(key);
    if (!alive(entry.child)) return;
    entry.expectExit = true;
    const exited = new Promise<void>((r) => entry.child.once("exit", () => r()));
    signalGroup(entry.child, "SIGKILL");
    await exited;
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    while (!(await portFree(entry.worker.port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }

  /** Starts one worker again with the same config, port and state (killing it first if it runs). */
  async restart(key: string): Promise<LocalWorker> {
    const { worker } = this.#entry(key);
    await this.kill(key);
    await this.start(worker);
    return worker;
  }

  /** SIGTERM to every process group, SIGKILL after the grace period; resolves when all have exited. */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    const exits = this.#children.map((c) => (alive(c) ? new Promise<void>((r) => c.once("exit", () => r())) : Promise.resolve()));
    for (const c of this.#children) signalGroup(c, "SIGTERM");
    const timer = setTimeout(() => this.#children.forEach((c) => signalGroup(c, "SIGKILL")), SHUTDOWN_GRACE_MS);
    await Promise.all(exits);
    clearTimeout(timer);
  }

  /** <state>/processes.json: every worker's pid (its process group), port and the command that starts it. */
  writeList(): void {
    const { root, wrangler, state, env } = this.#options;
    const list: WorkerProcess[] = [...this.#running.values()].map(({ worker, child, args }) => ({
      key: worker.key,
      worker: worker.worker,
      pid: child.pid ?? null,
      running: alive(child),
      port: worker.port,
      url: worker.url,
      health: worker.health,
      command: wrangler,
      args,
      cwd: root,
      env,
    }));
    writeFileSync(path.join(state, PROCESSES_FILE), `${JSON.stringify(list, null, 2)}\n`);
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}
