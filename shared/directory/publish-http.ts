import { fromBase64, toBase64 } from "../base64.ts";
import { signRequest } from "../signing.ts";
import type { EdgeControlApi } from "./publish-api.ts";

/** The edge's path for signed EdgeSync calls. */
export const EDGE_DIRECTORY_PATH = "/_portcullis/directory";

/** The methods of {@link EdgeControlApi}, in the JSON envelope `{ "method", "args" }`. */
export const EDGE_DIRECTORY_METHODS = [
  "status",
  "acquire",
  "renew",
  "missing",
  "putBlobs",
  "commit",
  "release",
  "lookup",
  "spoolList",
  "spoolGet",
  "spoolRetry",
  "spoolSuspend",
  "spoolResume",
  "spoolDelete",
  "hubHealth",
] as const;
export type EdgeDirectoryMethod = (typeof EDGE_DIRECTORY_METHODS)[number];

/** Blobs travel as base64 inside the JSON envelope. */
export interface WireBlob {
  hash: string;
  base64: string;
}

export const toWireBlobs = (blobs: { hash: string; bytes: Uint8Array }[]): WireBlob[] => blobs.map((b) => ({ hash: b.hash, base64: toBase64(b.bytes) }));
export const fromWireBlobs = (blobs: WireBlob[]): { hash: string; bytes: Uint8Array }[] => blobs.map((b) => ({ hash: b.hash, bytes: fromBase64(b.base64) }));

/**
 * An {@link EdgeControlApi} over signed HTTPS, for an edge on another account or reached
 * through the internet. `fetcher` is the global fetch in production; tests inject their own.
 */
export function httpEdgeDirectory(baseUrl: string, secret: string, fetcher: typeof fetch = fetch): EdgeControlApi {
  const url = new URL(EDGE_DIRECTORY_PATH, baseUrl);
  const call = async <T>(method: EdgeDirectoryMethod, args: unknown[]): Promise<T> => {
    const body = new TextEncoder().encode(JSON.stringify({ method, args }));
    const headers = { ...(await signRequest(secret, "POST", url.pathname, body)), "content-type": "application/json" };
    const res = await fetcher(url, { method: "POST", headers, body });
    const text = await res.text();
    if (!res.ok) throw new Error(`edge ${url.host} answered ${res.status} to ${method}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  };
  return {
    status: () => call("status", []),
    acquire: (holder, ttlMs) => call("acquire", [holder, ttlMs]),
    renew: (token, ttlMs) => call("renew", [token, ttlMs]),
    missing: (hashes) => call("missing", [hashes]),
    putBlobs: (token, blobs) => call("putBlobs", [token, toWireBlobs(blobs)]),
    commit: (token, root) => call("commit", [token, root]),
    release: (token) => call("release", [token]),
    lookup: (address) => call("lookup", [address]),
    spoolList: (query) => call("spoolList", [query]),
    spoolGet: (deliveryId) => call("spoolGet", [deliveryId]),
    spoolRetry: (deliveryId) => call("spoolRetry", [deliveryId]),
    spoolSuspend: (deliveryId) => call("spoolSuspend", [deliveryId]),
    spoolResume: (deliveryId) => call("spoolResume", [deliveryId]),
    spoolDelete: (deliveryId, reason) => call("spoolDelete", [deliveryId, reason]),
    hubHealth: () => call("hubHealth", []),
  };
}
