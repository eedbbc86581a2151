/** The edge ↔ hub contract for publishing directory snapshots. */

/** A committed directory version, as an edge reports it. */
export interface DirectoryVersion {
  version: number;
  root: string;
  committedAt: string;
}

export interface EdgeStatus {
  edgeId: string;
  current: DirectoryVersion | null;
}

/** What a hub calls on an edge (service binding RPC today; signed HTTPS for remote edges). */
export interface EdgeDirectoryApi {
  status(): Promise<EdgeStatus>;
  /** Which of these blob hashes the edge does not hold yet. */
  missing(hashes: string[]): Promise<string[]>;
  putBlobs(blobs: { hash: string; bytes: Uint8Array }[]): Promise<number>;
  /** Switches the edge to the version whose manifest hashes to `root`. */
  commit(root: string): Promise<DirectoryVersion>;
}
