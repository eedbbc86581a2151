import { API_EXIT, HubApiError, HubClient } from "../api.ts";
import { when } from "../format.ts";
import { type Io, UsageError } from "../output.ts";
import { checkProfileName, configPath, DEFAULT_PROFILE_NAME, maskToken, normaliseHubUrl, readConfig, writeConfig } from "../profiles.ts";
import { printTable } from "../table.ts";
import { parse, positionals } from "./command.ts";

export const LOGIN_USAGE = `Usage: portcullis login --hub URL --token TOKEN [--profile NAME] [--default] [--json]

Checks the token against the hub's admin API, then saves it as a profile in
$XDG_CONFIG_HOME/portcullis/config.json (default ~/.config/portcullis/config.json; mode 0600).
  --hub       the hub's URL, e.g. http://localhost:8788 (default: $PORTCULLIS_HUB)
  --token     an admin API token (default: $PORTCULLIS_TOKEN); "--token -" reads it from stdin,
              which keeps it out of the shell's history and the process list
  --profile   the profile's name (default: "${DEFAULT_PROFILE_NAME}")
  --default   make it the profile commands use without --profile (the first profile saved always is)
Nothing is saved when the hub refuses the token (exit 2) or cannot be reached (exit 3).`;

export const LOGOUT_USAGE = `Usage: portcullis logout [--profile NAME] [--json]

Forgets a saved profile and its token (default: the default profile). The token itself stays
valid at the hub; revoke it there with "portcullis tokens revoke ID".`;

export const PROFILES_USAGE = `Usage: portcullis profiles [--json]

Lists the saved profiles: name, hub, the token's last four characters, and which one is the default.`;

/** The cheap authenticated read a login is checked with: one domain, no edge asked. */
const LOGIN_CHECK_PATH = "/domains";

/** Longest token read from stdin: tokens are short; anything longer is not one. */
const MAX_STDIN_TOKEN_BYTES = 4096;

async function readStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    text += chunk.toString("utf8");
    if (text.length > MAX_STDIN_TOKEN_BYTES) throw new UsageError("--token -: stdin holds more than a token");
  }
  return text.trim();
}

export async function login(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, { hub: { type: "string" }, token: { type: "string" }, default: { type: "boolean", default: false } });
  positionals(rest, []);
  const rawHub = values.hub ?? process.env.PORTCULLIS_HUB;
  const token = values.token === "-" ? await readStdin() : (values.token ?? process.env.PORTCULLIS_TOKEN);
  if (rawHub === undefined || rawHub === "") throw new UsageError("login needs --hub URL");
  if (token === undefined || token === "") throw new UsageError("login needs --token TOKEN");
  if (/\s/.test(token)) throw new UsageError("--token must not contain white space");
  const name = checkProfileName(values.profile ?? DEFAULT_PROFILE_NAME);
  const hub = normaliseHubUrl(rawHub);

  try {
    await new HubClient({ hub, token }).get(LOGIN_CHECK_PATH, { limit: 1 });
  } catch (err) {
    if (err instanceof HubApiError && (err.status === 401 || err.status === 403)) {
      throw new HubApiError(err.status, err.code, err.message, [`The hub at ${hub} did not accept this token; nothing was saved.`]);
    }
    throw err;
  }

  const file = configPath();
  const config = await readConfig(file);
  config.profiles[name] = { hub, token, savedAt: new Date().toISOString() };
  const isDefault = values.default || config.defaultProfile === null || config.defaultProfile === name;
  if (isDefault) config.defaultProfile = name;
  await writeConfig(file, config);

  if (values.json) io.out(JSON.stringify({ profile: name, hub, token: maskToken(token), default: isDefault, config: file }));
  else {
    io.out(`Logged in to ${hub} as profile "${name}" (token ${maskToken(token)})${isDefault ? ", the default profile" : ""}.`);
    io.out(`Saved in ${file}.`);
  }
  return API_EXIT.ok;
}

export async function logout(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  positionals(rest, []);
  const file = configPath();
  const config = await readConfig(file);
  const name = values.profile ?? config.defaultProfile ?? DEFAULT_PROFILE_NAME;
  if (!Object.hasOwn(config.profiles, name)) throw new UsageError(`no profile named "${name}"; see "portcullis profiles"`);
  delete config.profiles[name];
  if (config.defaultProfile === name) {
    // With one profile left there is no doubt which one is meant.
    const left = Object.keys(config.profiles);
    config.defaultProfile = left.length === 1 ? left[0]! : null;
  }
  await writeConfig(file, config);
  if (values.json) io.out(JSON.stringify({ profile: name, removed: true, defaultProfile: config.defaultProfile }));
  else io.out(`Forgot profile "${name}".${config.defaultProfile === null ? "" : ` The default profile is "${config.defaultProfile}".`}`);
  return API_EXIT.ok;
}

export async function profiles(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  positionals(rest, []);
  const file = configPath();
  const config = await readConfig(file, (line) => io.err(line));
  const rows = Object.entries(config.profiles).map(([name, p]) => ({
    name,
    hub: p.hub,
    token: maskToken(p.token),
    default: config.defaultProfile === name,
    savedAt: p.savedAt === "" ? null : p.savedAt,
  }));
  if (values.json) {
    io.out(JSON.stringify({ config: file, defaultProfile: config.defaultProfile, items: rows }));
    return API_EXIT.ok;
  }
  printTable(
    io,
    [
      { header: "", value: (r) => (r.default ? "*" : " ") },
      { header: "PROFILE", value: (r) => r.name },
      { header: "HUB", value: (r) => r.hub, shrink: true },
      { header: "TOKEN", value: (r) => r.token },
      { header: "SAVED", value: (r) => when(r.savedAt) },
    ],
    rows,
    `No profiles in ${file}. Add one with: portcullis login --hub URL --token TOKEN`,
  );
  for (const v of ["PORTCULLIS_HUB", "PORTCULLIS_TOKEN"] as const) {
    if (process.env[v]) io.err(`note: ${v} is set and overrides the profile's ${v === "PORTCULLIS_HUB" ? "hub" : "token"}`);
  }
  return API_EXIT.ok;
}
