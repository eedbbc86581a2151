/** How long one admin API call may take before it counts as failed. */
const ADMIN_API_TIMEOUT_MS = 30_000;

/**
 * Calls a hub's admin API (`<hub>/api/v1<apiPath>`) with a bearer token, as `npm start` and the
 * end-to-end tests do: the parsed JSON answer (null for an empty one), or an error carrying the
 * API's own status and message.
 */
export async function adminApi<T>(hub: string, token: string, method: string, apiPath: string, body?: unknown): Promise<T> {
  const res = await fetch(`${hub}/api/v1${apiPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(ADMIN_API_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${hub}/api/v1${apiPath}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return (text === "" ? null : JSON.parse(text)) as T;
}
