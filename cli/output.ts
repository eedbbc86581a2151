/** Where the CLI writes; tests pass their own. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Writes to stderr without a line break, for a progress bar that redraws its line. */
  errRaw?(text: string): void;
  /** Whether stdout / stderr are terminals (colours, progress bars) and how wide stdout is; absent: neither. */
  tty?: { out: boolean; err: boolean; columns: number | undefined; stdin: boolean };
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  errRaw: (text) => process.stderr.write(text),
  get tty() {
    return { out: process.stdout.isTTY === true, err: process.stderr.isTTY === true, columns: process.stdout.columns, stdin: process.stdin.isTTY === true };
  },
};

/** A mistake in how the command was called: printed with a pointer to the usage; exit code 64 (EX_USAGE) for scan and send, 1 for the admin API commands. */
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
