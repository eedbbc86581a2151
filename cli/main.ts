import { API_EXIT, HubApiError, HubUnreachableError } from "./api.ts";
import { BACKUP_USAGE, backup } from "./commands/backup.ts";
import type { Command } from "./commands/command.ts";
import { DNS_CHECK_USAGE, dnsCheck } from "./commands/dns-check.ts";
import { DOMAINS_USAGE, domains } from "./commands/domains.ts";
import { EDGES_USAGE, edges, SYNC_USAGE, sync } from "./commands/edges.ts";
import { HUBS_USAGE, hubs } from "./commands/hubs.ts";
import { POLICY_USAGE, policy } from "./commands/policy.ts";
import { QUARANTINE_USAGE, quarantine } from "./commands/quarantine.ts";
import { QUEUE_USAGE, queue } from "./commands/queue.ts";
import { RECIPIENTS_USAGE, recipients } from "./commands/recipients.ts";
import { LOGIN_USAGE, LOGOUT_USAGE, login, logout, PROFILES_USAGE, profiles } from "./commands/session.ts";
import { TOKENS_USAGE, tokens } from "./commands/tokens.ts";
import { TRACE_USAGE, trace } from "./commands/trace.ts";
import { EXIT, type Io, processIo, UsageError } from "./output.ts";
import { SCAN_USAGE, scan } from "./scan.ts";
import { RELAY_TEST_USAGE, relayTest } from "./relay-test.ts";
import { SEND_USAGE, send } from "./send.ts";

const USAGE = `Usage: portcullis <command> [options]

Offline and local:
  scan FILE.eml...                run the hygiene pipeline offline and print each verdict
  send FILE.eml                   send a message to a local edge (npm start)
  relay-test --key K --from A --to B
                                  submit a test message to an edge's relay (POST /v1/relay)

Admin API (the hub's /api/v1):
  login --hub URL --token TOKEN   check a token and save it as a profile
  logout                          forget a profile
  profiles                        list the saved profiles (tokens masked)
  domains list|add|remove         accepted domains and their onward routes
  dns-check DOMAIN [--local]      a domain's MX, SPF, DMARC, MTA-STS and TLS-RPT, each with a fix
  recipients list|show|import|remove
                                  the directory; import takes CSV or JSON, any size
  policy list|get|set|reset       policies (thresholds, lists, hubs, delivery, …)
  hubs                            upstream hubs: priority, weight, health, breakers per edge
  edges                           edges: version, root hash, converged, last error
  sync status|now                 converged N/M; run an EdgeSync round now
  backup list|create|restore|standby
                                  directory exports in R2, restore, the standby hub
  queue [--edge ID]               spooled mail; show|retry|suspend|resume|delete one message
  quarantine list|show|release|delete|report
                                  messages held by the content filter
  trace                           message tracking by Message-ID, sender, recipient or delivery id
  tokens list|create|revoke       admin API tokens
  help [command]                  this text, or a command's

Admin API options (every command above but scan and send):
  --profile NAME   use this saved profile (default: $PORTCULLIS_PROFILE, else the default profile)
  --json           machine-readable output: one JSON document on stdout (errors too:
                   {"error": {"status", "code", "message", "details"?}})
Environment: PORTCULLIS_HUB and PORTCULLIS_TOKEN override the profile's hub and token;
profiles live in $XDG_CONFIG_HOME/portcullis/config.json (default ~/.config/portcullis/config.json,
mode 0600). Tables are coloured only on a terminal and never with NO_COLOR set.

Exit codes of the admin API commands:
  0  done
  1  usage error (bad arguments, unreadable file, no hub configured)
  2  the hub refused: bad token (401), role too low (403), not found (404), invalid input (4xx),
     or rows of an import; the API's error code and message are shown
  3  the hub could not be reached, did not answer in time, or failed (5xx)
dns-check also exits 2 when a check failed and 3 when the resolver did not answer.
scan and send keep theirs (see "portcullis help scan" and "portcullis help send"); an unknown
command exits 64.

Run "portcullis help COMMAND" for a command's options.

${SCAN_USAGE}

${SEND_USAGE}`;

const api = (run: Command["run"], usage: string): Command => ({ run, usage, usageExit: API_EXIT.usage, api: true });

const COMMANDS: Record<string, Command> = {
  scan: { run: scan, usage: SCAN_USAGE, usageExit: EXIT.usage, api: false },
  send: { run: send, usage: SEND_USAGE, usageExit: EXIT.usage, api: false },
  "relay-test": { run: relayTest, usage: RELAY_TEST_USAGE, usageExit: EXIT.usage, api: false },
  login: api(login, LOGIN_USAGE),
  logout: api(logout, LOGOUT_USAGE),
  profiles: api(profiles, PROFILES_USAGE),
  domains: api(domains, DOMAINS_USAGE),
  "dns-check": api(dnsCheck, DNS_CHECK_USAGE),
  recipients: api(recipients, RECIPIENTS_USAGE),
  policy: api(policy, POLICY_USAGE),
  hubs: api(hubs, HUBS_USAGE),
  edges: api(edges, EDGES_USAGE),
  sync: api(sync, SYNC_USAGE),
  backup: api(backup, BACKUP_USAGE),
  queue: api(queue, QUEUE_USAGE),
  quarantine: api(quarantine, QUARANTINE_USAGE),
  trace: api(trace, TRACE_USAGE),
  tokens: api(tokens, TOKENS_USAGE),
};

function isParseArgsError(err: unknown): err is TypeError {
  return err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS");
}

/** Reports a failed command on stderr (and as JSON on stdout with --json); answers the exit code. */
function report(io: Io, command: string, entry: Command, json: boolean, err: unknown): number {
  const emit = (status: number | null, code: string, message: string, exit: number, details: string[] = []): number => {
    if (json && entry.api) io.out(JSON.stringify({ error: { status, code, message, ...(details.length > 0 ? { details } : {}) } }));
    return exit;
  };
  if (err instanceof UsageError || isParseArgsError(err)) {
    io.err(`portcullis ${command}: ${err.message}\nRun "portcullis ${command} --help" for usage.`);
    return emit(null, "usage", err.message, entry.usageExit);
  }
  if (err instanceof HubApiError) {
    const what = err.status >= 500 ? "the hub failed" : "the hub refused the request";
    const hint = err.status === 401 && command !== "login" ? '\nCheck the token: "portcullis login --hub URL --token TOKEN", or PORTCULLIS_TOKEN.' : "";
    io.err(`portcullis ${command}: ${what} (${err.status} ${err.code}): ${err.message}${err.details.map((d) => `\n  - ${d}`).join("")}${hint}`);
    return emit(err.status, err.code, err.message, err.exitCode, err.details);
  }
  if (err instanceof HubUnreachableError) {
    io.err(`portcullis ${command}: ${err.message}`);
    return emit(null, "unreachable", err.message, API_EXIT.unreachable);
  }
  throw err;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    const topic = command === "help" && rest[0] !== undefined ? COMMANDS[rest[0]] : undefined;
    io.out(topic?.usage ?? USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
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
    return report(io, command, entry, rest.includes("--json"), err);
  }
}
