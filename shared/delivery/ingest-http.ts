import type { HubIngestApi, HubPing, IngestResult } from "../delivery.ts";
import { signRequest } from "../signing.ts";
import { encodeDelivery } from "./frame.ts";

/**
 * The hub's path for deliveries over signed HTTPS (edges without a service binding to it).
 *
 *   POST /_portcullis/ingest   body: a delivery frame (shared/delivery/frame.ts),
 *                              signed with SYNC_SIGNING_KEY (shared/signing.ts)
 *   200 {"status":"stored"|"duplicate","id"}   taken (or taken before: same delivery id)
 *   400 {"status":"refused","error"}           the frame is invalid; retrying it cannot help
 *   401 / 409                                  bad signature / replayed nonce
 *   5xx                                        the hub cannot take mail now; try another or spool
 *
 *   GET /_portcullis/ping      signed, empty body → 200 {"status":"ok","hubId"} (the active probe)
 */
export const HUB_INGEST_PATH = "/_portcullis/ingest";
export const HUB_PING_PATH = "/_portcullis/ping";

/** The hub answered, but not with a delivery result (signature refused, server error, …). */
export class HubHttpError extends Error {
  override name = "HubHttpError";
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/**
 * A {@link HubIngestApi} over signed HTTPS. `fetcher` is the global fetch in production; tests
 * inject their own.
 */
export function httpHubIngest(baseUrl: string, secret: string, fetcher: typeof fetch = fetch): HubIngestApi {
  const ingestUrl = new URL(HUB_INGEST_PATH, baseUrl);
  const pingUrl = new URL(HUB_PING_PATH, baseUrl);
  return {
    async ingest(delivery): Promise<IngestResult> {
      const body = encodeDelivery(delivery);
      const headers = { ...(await signRequest(secret, "POST", ingestUrl.pathname, body)), "content-type": "application/vnd.portcullis.delivery" };
      const res = await fetcher(ingestUrl, { method: "POST", headers, body: body as Uint8Array<ArrayBuffer> });
      const text = await res.text();
      if (res.status === 200 || res.status === 400) {
        const result = JSON.parse(text) as IngestResult;
        if (result.status === "stored" || result.status === "duplicate" || result.status === "refused") return result;
      }
      throw new HubHttpError(`hub ${ingestUrl.host} answered ${res.status}: ${text.slice(0, 200)}`, res.status);
    },
    async ping(): Promise<HubPing> {
      const headers = await signRequest(secret, "GET", pingUrl.pathname, new Uint8Array());
      const res = await fetcher(pingUrl, { headers });
      const text = await res.text();
      if (res.status !== 200) throw new HubHttpError(`hub ${pingUrl.host} answered ${res.status}: ${text.slice(0, 200)}`, res.status);
      return JSON.parse(text) as HubPing;
    },
  };
}
