import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { UsageError } from "./output.ts";

/** One saved hub connection. The token is a secret: it is written to the config file and nowhere else. */
export interface Profile {
  hub: string;
  token: string;
  savedAt: string;
}

/** `config.json`: the saved profiles and which one commands use when no `--profile` is given. */
export interface Config {
  defaultProfile: string | null;
  profiles: Record<string, Profile>;
}

/** A profile's name: safe to print, to put on a command line and to use as a JSON key. */
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The name `login` and `logout` use without `--profile`. */
export const DEFAULT_PROFILE_NAME = "default";

export function checkProfileName(name: string): string {
  if (!PROFILE_NAME.test(name)) throw new UsageError(`profile name "${name}": use 1–64 letters, digits, ".", "_" or "-"`);
  return name;
}

/** `$XDG_CONFIG_HOME/portcullis/config.json`, or `~/.config/portcullis/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME !== undefined && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(homedir(), ".config");
  return path.join(base, "portcullis", "config.json");
}

function isProfile(v: unknown): v is Profile {
  if (typeof v !== "object" || v === null) return false;
  const p = v as Record<string, unknown>;
  return typeof p.hub === "string" && typeof p.token === "string";
}

/**
 * Reads the config file; an absent file is an empty config. A file others may read gets a warning,
 * as ssh gives one for a private key: it holds tokens.
 */
export async function readConfig(file: string, warn?: (line: string) => void): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { defaultProfile: null, profiles: {} };
    throw new UsageError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (warn !== undefined && process.platform !== "win32") {
    const { mode } = await stat(file);
    if ((mode & 0o077) !== 0) warn(`warning: ${file} can be read by other users; it holds tokens. Run: chmod 600 ${file}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON (${err instanceof Error ? err.message : String(err)}); fix or delete it, then log in again`);
  }
  const raw = (typeof json === "object" && json !== null ? json : {}) as { defaultProfile?: unknown; profiles?: unknown };
  const profiles: Record<string, Profile> = {};
  if (typeof raw.profiles === "object" && raw.profiles !== null) {
    for (const [name, p] of Object.entries(raw.profiles)) {
      if (PROFILE_NAME.test(name) && isProfile(p)) profiles[name] = { hub: p.hub, token: p.token, savedAt: typeof p.savedAt === "string" ? p.savedAt : "" };
    }
  }
  const defaultProfile = typeof raw.defaultProfile === "string" && raw.defaultProfile in profiles ? raw.defaultProfile : null;
  return { defaultProfile, profiles };
}

/**
 * Writes the config file readable by its owner only (0600, in a 0700 directory). The new content goes
 * to a temporary file first, created with mode 0600, then takes the old one's place, so a crash never
 * leaves a half-written file and the tokens are never readable by others, not even for a moment.
 */
export async function writeConfig(file: string, config: Config): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const temp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify({ defaultProfile: config.defaultProfile, profiles: config.profiles }, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    await chmod(temp, 0o600);
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** How a token is shown: its last four characters, enough to tell two apart, never enough to use. */
export function maskToken(token: string): string {
  return token.length >= 12 ? `…${token.slice(-4)}` : "…";
}

/**
 * The hub's base URL as given (`http://host:8788`, with or without a trailing `/` or `/api/v1`, as
 * `npm start` prints it), normalised to its origin and path. Credentials in the URL are refused:
 * they would end up in the config file and in error messages.
 */
export function normaliseHubUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`the hub URL "${raw}" is not a URL (for example http://localhost:8788)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError("the hub URL must be an http:// or https:// URL");
  if (url.username !== "" || url.password !== "") throw new UsageError("the hub URL must not carry credentials; give the token with --token");
  if (url.search !== "" || url.hash !== "") throw new UsageError("the hub URL must not have a query or fragment");
  const pathname = url.pathname.replace(/\/+$/, "").replace(/\/api\/v1$/, "");
  return `${url.origin}${pathname}`;
}
