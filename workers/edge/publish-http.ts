import { EDGE_DIRECTORY_METHODS, type EdgeDirectoryMethod, fromWireBlobs, type WireBlob } from "../../shared/directory/publish-http.ts";
import type { EdgeControlApi } from "../../shared/directory/publish-api.ts";
import type { SpoolState } from "../../shared/delivery/spool-api.ts";
import { SIGNATURE_WINDOW_SECONDS, verifyRequest } from "../../shared/signing.ts";
import { leaseStub } from "./directory.ts";

/**
 * Largest signed EdgeSync request (bytes). Hubs send blobs in batches of at most 8 MiB, which is
 * about 11 MiB as base64; anything much larger is not a hub talking.
 */
const MAX_SIGNED_BODY_BYTES = 16 * 1024 * 1024;

const error = (status: number, code: string, message: string): Response => Response.json({ error: { code, message } }, { status });

/**
 * `POST /_portcullis/directory`: EdgeSync over signed HTTPS, for hubs without a service binding to
 * this edge. Disabled (404) unless SYNC_SIGNING_KEY is set. Every request must be signed with that
 * key, within ±5 minutes, with a nonce this edge has not seen.
 */
export async function handleSignedDirectory(request: Request, env: Env, directory: EdgeControlApi): Promise<Response> {
  const secret = env.SYNC_SIGNING_KEY;
  if (typeof secret !== "string" || secret.length === 0) return error(404, "not_found", "Signed EdgeSync is not enabled on this edge.");
  if (request.method !== "POST") return error(405, "method_not_allowed", "Use POST.");
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_SIGNED_BODY_BYTES) return error(413, "too_large", `Body over ${MAX_SIGNED_BODY_BYTES} bytes.`);
  const body = new Uint8Array(await request.arrayBuffer());
  if (body.byteLength > MAX_SIGNED_BODY_BYTES) return error(413, "too_large", `Body over ${MAX_SIGNED_BODY_BYTES} bytes.`);

  const url = new URL(request.url);
  const verified = await verifyRequest(secret, request.method, url.pathname + url.search, request.headers, body);
  if (!verified.ok) return error(401, "unauthorized", `Signature refused: ${verified.reason}.`);
  const fresh = await leaseStub(env).rememberNonce(verified.nonce, (verified.timestamp + 2 * SIGNATURE_WINDOW_SECONDS) * 1000);
  if (!fresh) return error(401, "unauthorized", "Signature refused: nonce already used.");

  let call: { method?: unknown; args?: unknown };
  try {
    call = JSON.parse(new TextDecoder().decode(body)) as typeof call;
  } catch {
    return error(400, "bad_request", 'Body must be JSON: {"method", "args"}.');
  }
  if (!EDGE_DIRECTORY_METHODS.includes(call.method as EdgeDirectoryMethod) || !Array.isArray(call.args)) {
    return error(400, "bad_request", `method must be one of ${EDGE_DIRECTORY_METHODS.join(", ")}, args an array.`);
  }
  const a = call.args as unknown[];
  try {
    return Response.json(await dispatch(directory, call.method as EdgeDirectoryMethod, a));
  } catch (err) {
    return error(400, "bad_request", err instanceof Error ? err.message : String(err));
  }
}

function dispatch(d: EdgeControlApi, method: EdgeDirectoryMethod, a: unknown[]): Promise<unknown> {
  switch (method) {
    case "status":
      return d.status();
    case "acquire":
      return d.acquire(a[0] as string, a[1] as number);
    case "renew":
      return d.renew(a[0] as number, a[1] as number);
    case "missing":
      return d.missing(a[0] as string[]);
    case "putBlobs":
      return d.putBlobs(a[0] as number, fromWireBlobs(a[1] as WireBlob[]));
    case "commit":
      return d.commit(a[0] as number, a[1] as string);
    case "release":
      return d.release(a[0] as number);
    case "lookup":
      return d.lookup(a[0] as string);
    case "spoolList":
      return d.spoolList((a[0] ?? {}) as { state?: SpoolState; cursor?: string; limit?: number });
    case "spoolGet":
      return d.spoolGet(a[0] as string);
    case "spoolRetry":
      return d.spoolRetry(a[0] as string);
    case "spoolSuspend":
      return d.spoolSuspend(a[0] as string);
    case "spoolResume":
      return d.spoolResume(a[0] as string);
    case "spoolDelete":
      return d.spoolDelete(a[0] as string, a[1] as string);
    case "hubHealth":
      return d.hubHealth();
  }
}
