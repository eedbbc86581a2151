import { configPath, normaliseHubUrl, readConfig } from "./profiles.ts";
import { UsageError } from "./output.ts";

/** Exit codes of the commands that talk to the admin API (scan and send keep their own). */
export const API_EXIT = {
  ok: 0,
  /** A mistake in how the command was called, or no hub configured. */
  usage: 1,
  /** The hub answered with an error: 3xx/4xx (bad token, no such thing, invalid input). */
  refused: 2,
  /** The hub could not be reached, did not answer in time, or answered with a 5xx. */
  unreachable: 3,
} as const;

/** How long one API call may take before the hub counts as not answering. */
const REQUEST_TIMEOUT_MS = 60_000;

/** An error answer from the hub: its status and the API's `{"error": {"code", "message"}}`. */
export class HubApiError extends Error {
  override name = "HubApiError";
  readonly status: number;
  readonly code: string;
  /** Itemised problems (a policy's validation errors), shown one per line. */
  readonly details: string[];

  constructor(status: number, code: string, message: string, details: string[] = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  get exitCode(): number {
    return this.status >= 500 ? API_EXIT.unreachable : API_EXIT.refused;
  }
}

/** No answer at all: connection refused, DNS failure, TLS failure, timeout. */
export class HubUnreachableError extends Error {
  override name = "HubUnreachableError";
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  /** A JSON body. */
  json?: unknown;
  /** A raw body with its content type (a stream is sent as it is read). */
  body?: BodyInit;
  contentType?: string;
  timeoutMs?: number;
}

export interface HubAnswer<T> {
  status: number;
  body: T;
}

/** What a connection was resolved from, for messages: `profile "prod"` or `PORTCULLIS_HUB`. */
export interface Connection {
  hub: string;
  token: string;
  source: string;
}

function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === "TimeoutError") return "no answer in time";
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code !== undefined && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return err.message;
}

/** The admin API over HTTP, with the bearer token. The token goes in the Authorization header only. */
export class HubClient {
  readonly hub: string;
  readonly #token: string;

  constructor(connection: { hub: string; token: string }) {
    this.hub = connection.hub;
    this.#token = connection.token;
  }

  url(apiPath: string, query: RequestOptions["query"] = {}): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") params.set(k, String(v));
    const qs = params.toString();
    return `${this.hub}/api/v1${apiPath}${qs === "" ? "" : `?${qs}`}`;
  }

  /** One call; answers its status and parsed JSON body (null for an empty body). Throws HubApiError / HubUnreachableError. */
  async request<T = unknown>(method: string, apiPath: string, options: RequestOptions = {}): Promise<HubAnswer<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, accept: "application/json" };
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers["content-type"] = "application/json";
    } else if (options.contentType !== undefined) headers["content-type"] = options.contentType;
    let res: Response;
    try {
      res = await fetch(this.url(apiPath, options.query), {
        method,
        headers,
        body,
        // A redirect is reported rather than followed: the token is meant for this hub only.
        redirect: "manual",
        signal: AbortSignal.timeout(options.timeoutMs ?? REQUEST_TIMEOUT_MS),
        ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (err) {
      throw new HubUnreachableError(`cannot reach the hub at ${this.hub}: ${describeFetchError(err)}`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new HubUnreachableError(`the hub at ${this.hub} stopped answering: ${describeFetchError(err)}`);
    }
    if (res.status >= 300 && res.status < 400) {
      throw new HubApiError(
        res.status,
        "redirect",
        `the hub answered with a redirect to ${res.headers.get("location") ?? "(nowhere)"}; log in with that URL instead`,
      );
    }
    let parsed: unknown = null;
    if (text.trim() !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        if (res.ok) throw new HubApiError(res.status, "not_json", `the hub at ${this.hub} answered with something other than JSON — is this a Portcullis hub?`);
      }
    }
    if (!res.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      const code = typeof error?.code === "string" ? error.code : `http_${res.status}`;
      const message = typeof error?.message === "string" ? error.message : text.trim().slice(0, 300) || res.statusText;
      throw new HubApiError(res.status, code, message);
    }
    return { status: res.status, body: parsed as T };
  }

  /** A GET whose answer is not JSON (a CSV export): the body as text. Errors as for {@link request}. */
  async text(apiPath: string, query: RequestOptions["query"] = {}, accept = "text/csv"): Promise<string> {
    let res: Response;
    try {
      res = await fetch(this.url(apiPath, query), {
        headers: { authorization: `Bearer ${this.#token}`, accept },
        redirect: "manual",
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new HubUnreachableError(`cannot reach the hub at ${this.hub}: ${describeFetchError(err)}`);
    }
    if (res.ok) return res.text();
    // Not a success: the usual JSON error handling (a redirect, the API's error body).
    return (await this.request<string>("GET", apiPath, { query })).body;
  }

  async get<T = unknown>(apiPath: string, query?: RequestOptions["query"]): Promise<T> {
    return (await this.request<T>("GET", apiPath, { query })).body;
  }

  /**
   * Every item of a cursor-paginated list, a page at a time, following `nextCursor` until it is null
   * or `max` items have come.
   */
  async *pages<T>(apiPath: string, query: RequestOptions["query"] = {}, max = Infinity): AsyncGenerator<T[]> {
    let cursor: string | undefined;
    let seen = 0;
    do {
      const limit = Math.min(PAGE_SIZE, max - seen);
      const page = await this.get<{ items?: T[]; nextCursor?: string | null }>(apiPath, { ...query, limit, cursor });
      const items = Array.isArray(page?.items) ? page.items : [];
      seen += items.length;
      yield items;
      cursor = typeof page?.nextCursor === "string" && page.nextCursor !== "" ? page.nextCursor : undefined;
    } while (cursor !== undefined && seen < max);
  }
}

/** Items asked for per page: the API's largest page, so long lists take as few round trips as possible. */
const PAGE_SIZE = 500;

/**
 * Which hub and token a command uses: `PORTCULLIS_HUB` / `PORTCULLIS_TOKEN` when set (each overrides
 * the profile's), otherwise the profile named by `--profile`, `PORTCULLIS_PROFILE` or the default one.
 */
export async function resolveConnection(
  profileFlag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  warn?: (line: string) => void,
): Promise<Connection> {
  const envHub = env.PORTCULLIS_HUB !== undefined && env.PORTCULLIS_HUB !== "" ? env.PORTCULLIS_HUB : undefined;
  const envToken = env.PORTCULLIS_TOKEN !== undefined && env.PORTCULLIS_TOKEN !== "" ? env.PORTCULLIS_TOKEN : undefined;
  const file = configPath(env);
  const named = profileFlag ?? (env.PORTCULLIS_PROFILE !== undefined && env.PORTCULLIS_PROFILE !== "" ? env.PORTCULLIS_PROFILE : undefined);
  const needProfile = envHub === undefined || envToken === undefined || named !== undefined;
  const config = needProfile ? await readConfig(file, warn) : null;
  const name = named ?? config?.defaultProfile ?? undefined;
  const profile = name === undefined ? undefined : config?.profiles[name];
  if (named !== undefined && profile === undefined) throw new UsageError(`no profile named "${named}" in ${file}; see "portcullis profiles"`);
  const hub = envHub ?? profile?.hub;
  const token = envToken ?? profile?.token;
  if (hub === undefined || token === undefined) {
    throw new UsageError('no hub configured: run "portcullis login --hub URL --token TOKEN", or set PORTCULLIS_HUB and PORTCULLIS_TOKEN');
  }
  const source = [envHub !== undefined ? "PORTCULLIS_HUB" : null, envToken !== undefined ? "PORTCULLIS_TOKEN" : null, profile ? `profile "${name}"` : null]
    .filter((s) => s !== null)
    .join(" + ");
  return { hub: normaliseHubUrl(hub), token, source };
}
