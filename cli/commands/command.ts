import { createInterface } from "node:readline/promises";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { HubClient, resolveConnection } from "../api.ts";
import { type Io, UsageError } from "../output.ts";

/** A command of the `portcullis` dispatcher: its help text, how a usage mistake exits, and what it runs. */
export interface Command {
  usage: string;
  /** Exit code of a usage mistake: 64 (EX_USAGE) for scan and send as they always had, 1 for the API commands. */
  usageExit: number;
  /** Whether `--json` asks for errors as JSON on stdout too. */
  api: boolean;
  run(argv: string[], io: Io): Promise<number>;
}

/** Options every API command takes. */
export const API_OPTIONS = {
  profile: { type: "string" },
  json: { type: "boolean", default: false },
} as const satisfies ParseArgsOptionsConfig;

/** parseArgs with the API options added, strict, positionals allowed. */
export function parse<O extends ParseArgsOptionsConfig>(argv: string[], options: O) {
  return parseArgs({ args: argv, allowPositionals: true, strict: true, options: { ...API_OPTIONS, ...options } });
}

/** The admin API client for `--profile` (or the environment, or the default profile). */
export async function connect(io: Io, profile: string | undefined): Promise<HubClient> {
  return new HubClient(await resolveConnection(profile, process.env, (line) => io.err(line)));
}

/** A sub-command handler: its own arguments (after the sub-command's name). */
export type Handler = (argv: string[], io: Io) => Promise<number>;

/**
 * Dispatches `portcullis GROUP SUB …` to the handler named SUB; `fallback` runs when the first word
 * is not a sub-command (`portcullis queue --edge x`), or there is none.
 */
export function group(name: string, handlers: Record<string, Handler>, fallback?: Handler): Handler {
  return (argv, io) => {
    const [sub, ...rest] = argv;
    if (sub !== undefined && Object.hasOwn(handlers, sub)) return handlers[sub]!(rest, io);
    if (fallback !== undefined && (sub === undefined || sub.startsWith("-"))) return fallback(argv, io);
    const known = Object.keys(handlers).join(", ");
    throw new UsageError(sub === undefined ? `${name} needs a sub-command: ${known}` : `unknown sub-command "${sub}"; ${name} takes: ${known}`);
  };
}

/** Exactly `n` positional arguments, named for the message. */
export function positionals(values: string[], names: string[]): string[] {
  if (values.length !== names.length) {
    throw new UsageError(
      names.length === 0 ? `unexpected argument "${values[0]}"` : `expected ${names.join(" ")}, got ${values.length === 0 ? "nothing" : values.join(" ")}`,
    );
  }
  return values;
}

/** `--limit N`: the most items a list prints (all of them without it). */
export function limitOption(raw: string | undefined): number {
  if (raw === undefined) return Infinity;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError("--limit must be a positive whole number");
  return n;
}

/**
 * Asks before a destructive action, only when a person is at a terminal: scripts (no terminal,
 * `--json`) and `--yes` go ahead. Answers whether to proceed.
 */
export async function confirm(io: Io, question: string, skip: boolean): Promise<boolean> {
  if (skip || io.tty?.stdin !== true || io.tty.err !== true) return true;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
