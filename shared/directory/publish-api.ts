import type { EdgeSpoolApi } from "../delivery/spool-api.ts";

/** The edge ↔ hub contract for publishing directory snapshots (EdgeSync). */

/** A committed directory version, as an edge reports it. */
export interface DirectoryVersion {
  version: number;
  root: string;
  committedAt: string;
}

/** Who may publish to an edge right now. */
export interface LeaseInfo {
  holder: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface EdgeStatus {
  edgeId: string;
  current: DirectoryVersion | null;
  lease: LeaseInfo | null;
}

/**
 * A lease answer. `token` is a fencing counter: it only grows, so a hub whose lease expired (and
 * was taken over) holds a smaller token than the current holder and can never commit.
 */
export type LeaseResult = { ok: true; token: number; expiresAt: number } | { ok: false; busy: true; holder: string; expiresAt: number };

/** Why an edge refused a write under a lease. */
export type LeaseRefusal = "stale_token" | "expired" | "no_lease";

export type RenewResult = { ok: true; expiresAt: number } | { ok: false; reason: LeaseRefusal };
export type PutResult = { ok: true; written: number } | { ok: false; reason: LeaseRefusal | "bad_blob"; detail?: string };
export type CommitResult = { ok: true; version: DirectoryVersion } | { ok: false; reason: LeaseRefusal | "incomplete"; detail?: string };

/** What an edge would answer for an address right now (Test-EdgeSynchronization). */
export interface EdgeLookup {
  edgeId: string;
  root: string | null;
  version: number | null;
  domainAccepted: boolean;
  recipient: { rejectInternet: boolean; sclOverride: number | null } | null;
  /** The SMTP reply the edge's recipient filter would give. */
  smtp: string;
  accepted: boolean;
}

/** What a hub calls on an edge (service binding RPC, or signed HTTPS for remote edges). */
export interface EdgeDirectoryApi {
  status(): Promise<EdgeStatus>;
  /** Takes the edge's lease for `ttlMs`, or says who holds it. */
  acquire(holder: string, ttlMs: number): Promise<LeaseResult>;
  renew(token: number, ttlMs: number): Promise<RenewResult>;
  /** Which of these blob hashes the edge does not hold yet. */
  missing(hashes: string[]): Promise<string[]>;
  /** Stores blobs (each must hash to its name) — only under a valid lease. */
  putBlobs(token: number, blobs: { hash: string; bytes: Uint8Array }[]): Promise<PutResult>;
  /** Switches the edge to the version whose manifest hashes to `root` — only under a valid lease, once every blob is there. */
  commit(token: number, root: string): Promise<CommitResult>;
  /** Gives the lease up early (a no-op for a token that no longer holds it). */
  release(token: number): Promise<boolean>;
  /** What the edge's recipient filter would answer for this address now. */
  lookup(address: string): Promise<EdgeLookup>;
}

/** Everything a hub may call on an edge: EdgeSync, and the spool and hub-health views for operators. */
export type EdgeControlApi = EdgeDirectoryApi & EdgeSpoolApi;
