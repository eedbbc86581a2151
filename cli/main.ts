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

const COMMANDS: Record<string, (argv: string[], io: Io) => Promise<number>> = { scan, send };

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    io.out(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    io.err(`portcullis: unknown command "${command}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS"))) {
      io.err(`portcullis ${command}: ${err.message}\nRun "portcullis ${command} --help" for usage.`);
      return EXIT.usage;
    }
    throw err;
  }
}
