import { WorkerEntrypoint } from "cloudflare:workers";
import { DELIVERY_ID } from "../../shared/delivery.ts";
import { normaliseAddress } from "../../shared/directory/address.ts";
import { sha256Hex } from "../../shared/directory/hash.ts";
import { manifestBlobs, parseManifest } from "../../shared/directory/manifest.ts";
import type { CommitResult, EdgeControlApi, EdgeLookup, EdgeStatus, LeaseResult, PutResult, RenewResult } from "../../shared/directory/publish-api.ts";
import { limits } from "../../shared/hygiene/agents/limits.ts";
import { recipientFilter } from "../../shared/hygiene/agents/recipient-filter.ts";
import { runPipeline } from "../../shared/hygiene/pipeline.ts";
import { blobKey, invalidateVersion, leaseStub, openDirectory } from "./directory.ts";
import { SPOOL_STATES, type SpoolActionResult, type SpoolItem, type SpoolPage, type SpoolState } from "../../shared/delivery/spool-api.ts";
import type { HubHealthReport } from "../../shared/delivery/health.ts";
import { deliverySettings } from "../../shared/delivery/settings.ts";
import { readPolicy } from "../../shared/policy.ts";
import { healthStub } from "./hubs.ts";
import { spoolAction, spoolIndex } from "./spool.ts";

/** Largest blob accepted from a hub: KV's own value limit. */
const MAX_BLOB_BYTES = 25 * 1024 * 1024;

/** KV lists at most 1,000 keys a page. */
const KV_LIST_PAGE = 1000;

/** A minimal message for answering "would this edge accept mail for X" without real mail. */
const PROBE_MESSAGE = new TextEncoder().encode("From: probe@portcullis.invalid\r\nMessage-ID: <probe@portcullis.invalid>\r\n\r\n");

/**
 * How a hub publishes a directory snapshot to this edge: take the lease, write the missing blobs,
 * commit the root hash, release. Reachable only through a service binding (a named entrypoint is
 * never served on the internet) or the signed HTTPS route. The edge never writes directory data of
 * its own.
 */
export class EdgeDirectory extends WorkerEntrypoint<Env> implements EdgeControlApi {
  async status(): Promise<EdgeStatus> {
    const stub = leaseStub(this.env);
    const [current, lease] = await Promise.all([stub.current(), stub.lease()]);
    return { edgeId: this.env.EDGE_ID, current, lease };
  }

  async acquire(holder: string, ttlMs: number): Promise<LeaseResult> {
    return leaseStub(this.env).acquire(holder, ttlMs);
  }

  async renew(token: number, ttlMs: number): Promise<RenewResult> {
    return leaseStub(this.env).renew(token, ttlMs);
  }

  async release(token: number): Promise<boolean> {
    return leaseStub(this.env).release(token);
  }

  async missing(hashes: string[]): Promise<string[]> {
    const present = await this.#presentBlobs();
    return hashes.filter((h) => !present.has(h));
  }

  async putBlobs(token: number, blobs: { hash: string; bytes: Uint8Array }[]): Promise<PutResult> {
    const refusal = await leaseStub(this.env).check(token);
    if (refusal !== null) return { ok: false, reason: refusal };
    for (const { hash, bytes } of blobs) {
      if (!(bytes instanceof Uint8Array) || bytes.byteLength > MAX_BLOB_BYTES)
        return { ok: false, reason: "bad_blob", detail: `blob ${String(hash).slice(0, 12)} is not bytes of at most ${MAX_BLOB_BYTES}` };
      if ((await sha256Hex(bytes)) !== hash) return { ok: false, reason: "bad_blob", detail: `blob ${String(hash).slice(0, 12)} does not match its hash` };
    }
    // Blobs are content-addressed and invisible until a commit names them: writing one is always safe.
    await Promise.all(blobs.map(({ hash, bytes }) => this.env.DIRECTORY.put(blobKey(hash), bytes)));
    return { ok: true, written: blobs.length };
  }

  async commit(token: number, root: string): Promise<CommitResult> {
    const manifestBytes = await this.env.DIRECTORY.get(blobKey(root), "arrayBuffer");
    if (manifestBytes === null) return { ok: false, reason: "incomplete", detail: `manifest ${root.slice(0, 12)} has not been written` };
    const bytes = new Uint8Array(manifestBytes);
    if ((await sha256Hex(bytes)) !== root) return { ok: false, reason: "incomplete", detail: `manifest ${root.slice(0, 12)} is damaged` };
    const absent = await this.missing(manifestBlobs(parseManifest(bytes)));
    if (absent.length > 0) return { ok: false, reason: "incomplete", detail: `${absent.length} blob(s) named by manifest ${root.slice(0, 12)} are missing` };
    // The lease is checked again inside the object, atomically with the pointer switch.
    const result = await leaseStub(this.env).commit(token, root);
    if (result.ok) invalidateVersion();
    return result;
  }

  async lookup(address: string): Promise<EdgeLookup> {
    const normalised = normaliseAddress(address);
    const { current } = await this.status();
    const base = { edgeId: this.env.EDGE_ID, root: current?.root ?? null, version: current?.version ?? null };
    if (normalised === null) return { ...base, domainAccepted: false, recipient: null, smtp: "553 5.1.3 Bad address syntax", accepted: false };
    const directory = await openDirectory(this.env);
    const result = await runPipeline({ envelope: { from: "", to: [normalised] }, raw: PROBE_MESSAGE }, { directory }, { agents: [limits, recipientFilter] });
    return {
      ...base,
      root: directory.root,
      domainAccepted: await directory.isAcceptedDomain(normalised.slice(normalised.lastIndexOf("@") + 1)),
      recipient: await directory.lookupRecipient(normalised),
      smtp: result.smtp,
      accepted: result.action === "accept",
    };
  }
  // The queue viewer (spooled and dead-lettered messages) and this edge's view of hub health.

  async spoolList(query: { state?: SpoolState; cursor?: string; limit?: number }): Promise<SpoolPage> {
    if (query.state !== undefined && !SPOOL_STATES.includes(query.state)) throw new Error(`state must be one of ${SPOOL_STATES.join(", ")}`);
    return spoolIndex(this.env).list(query);
  }

  async spoolGet(deliveryId: string): Promise<SpoolItem | null> {
    return spoolIndex(this.env).get(checkDeliveryId(deliveryId));
  }

  async spoolRetry(deliveryId: string): Promise<SpoolActionResult> {
    return spoolAction(this.env, checkDeliveryId(deliveryId), "retry");
  }

  async spoolSuspend(deliveryId: string): Promise<SpoolActionResult> {
    return spoolAction(this.env, checkDeliveryId(deliveryId), "suspend");
  }

  async spoolResume(deliveryId: string): Promise<SpoolActionResult> {
    return spoolAction(this.env, checkDeliveryId(deliveryId), "resume");
  }

  async spoolDelete(deliveryId: string, reason: string): Promise<SpoolActionResult> {
    if (typeof reason !== "string" || reason.trim().length === 0 || reason.length > 500) {
      return { ok: false, error: "invalid", message: "a reason (1–500 characters) is required to delete a message" };
    }
    return spoolAction(this.env, checkDeliveryId(deliveryId), "delete", reason.trim());
  }

  async hubHealth(): Promise<HubHealthReport> {
    // Without a readable directory the defaults apply: the report is still worth having.
    const policy = await openDirectory(this.env)
      .then((d) => readPolicy(d, "delivery"))
      .catch(() => null);
    const settings = deliverySettings(policy);
    return healthStub(this.env).report(settings.breakerOpenSeconds);
  }

  async #presentBlobs(): Promise<Set<string>> {
    const present = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await this.env.DIRECTORY.list({ prefix: "blob/", limit: KV_LIST_PAGE, cursor });
      for (const k of page.keys) present.add(k.name.slice("blob/".length));
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor !== undefined);
    return present;
  }
}

function checkDeliveryId(deliveryId: string): string {
  if (typeof deliveryId !== "string" || !DELIVERY_ID.test(deliveryId)) throw new Error("deliveryId must be a UUID");
  return deliveryId;
}
