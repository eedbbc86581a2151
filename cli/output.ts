/** Where the CLI writes; tests pass their own. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** A mistake in how the command was called: printed with the usage, exit code 64 (EX_USAGE). */
export class UsageError extends Error {
  override name = "UsageError";
}

export const EXIT = {
  ok: 0,
  /** Some input could not be processed (unreadable file, unreachable edge). */
  failed: 1,
  /** `send`: the edge refused the message permanently (5xx). */
  rejected: 2,
  /** `send`: the edge deferred the message (4xx, the sender would retry). */
  deferred: 3,
  usage: 64,
} as const;

/** Options `scan` and `send` share: the SMTP envelope and machine-readable output. */
export const ENVELOPE_OPTIONS = {
  from: { type: "string" },
  to: { type: "string" },
  json: { type: "boolean", default: false },
} as const;
