import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const bin = path.join(root, "node_modules", ".bin");

/** The line `npm start` prints once the stack is up. */
export const READY = "Press Ctrl-C to stop.";

/** Output kept from the stack: enough for the banner and the last errors, bounded however long it runs. */
const OUTPUT_TAIL_CHARS = 64 * 1024;

/** How long the stack may take to stop after Ctrl-C before that is an error. */
const STOP_TIMEOUT_MS = 30_000;

/** A `npm start` stack (scripts/start.ts) run by a test or a benchmark. */
export interface LaunchedStack {
  child: ChildProcess;
  /** The last OUTPUT_TAIL_CHARS of its stdout and stderr. */
  output(): string;
  /** Ctrl-C, then its exit code. */
  stop(): Promise<number | null>;
}

/** Starts scripts/start.ts on these ports and state folder, on the project's Node, and waits for its banner. */
export async function launchStack(options: { edgePort: number; hubPort: number; state: string; timeoutMs: number }): Promise<LaunchedStack> {
  const child = spawn(
    path.join(bin, "node"),
    ["scripts/start.ts", "--edge-port", String(options.edgePort), "--hub-port", String(options.hubPort), "--state", options.state],
    {
      cwd: root,
      env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`, FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
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
    output: () => output,
    stop: () => {
      if (child.exitCode === null) child.kill("SIGINT");
      return Promise.race([
        exited,
        new Promise<number | null>((_, fail) => setTimeout(() => fail(new Error("npm start did not stop after SIGINT")), STOP_TIMEOUT_MS)),
      ]);
    },
  };
}
