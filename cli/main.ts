import { EXIT, type Io, processIo, UsageError } from "./output.ts";
import { SCAN_USAGE, scan } from "./scan.ts";
import { SEND_USAGE, send } from "./send.ts";

const USAGE = `Usage: portcullis <command> [options]

Commands:
  scan FILE.eml...   run the hygiene pipeline offline and print each verdict
  send FILE.eml      send a message to a local edge (npm start)
  help [command]     show help

${SCAN_USAGE}

${SEND_USAGE}`;

const COMMANDS: Record<string, { run: (argv: string[], io: Io) => Promise<number>; usage: string }> = {
  scan: { run: scan, usage: SCAN_USAGE },
  send: { run: send, usage: SEND_USAGE },
};

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    const topic = command === "help" && rest[0] !== undefined ? COMMANDS[rest[0]] : undefined;
    io.out(topic?.usage ?? USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  const entry = COMMANDS[command];
  if (entry === undefined) {
    io.err(`portcullis: unknown command "${command}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(entry.usage);
    return EXIT.ok;
  }
  try {
    return await entry.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS"))) {
      io.err(`portcullis ${command}: ${err.message}\nRun "portcullis ${command} --help" for usage.`);
      return EXIT.usage;
    }
    throw err;
  }
}
