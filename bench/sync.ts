/**
 * EdgeSync figures for `npm run bench`.
 *
 * - sync.lookup.warmMicros: one recipient lookup against a 1,000,000-address snapshot whose blobs
 *   are already loaded (keyed hash + overlay search + shard binary search), pure code timed in Node.
 * - sync.full1m.*: 1,000,000 recipients imported through the admin API (CSV, streamed), then one
 *   EdgeSync round to an edge holding none of them: KV writes, bytes, wall seconds (build + push).
 * - sync.delta1k.kvWrites: KV writes of the round after 1,000 more recipients are imported.
 * - sync.propagation.localSeconds: from the admin call adding a recipient to the local edge
 *   accepting mail for it.
 *
 * The end-to-end parts run against the `npm start` stack (scripts/start.ts) on free ports with a
 * fresh state folder, measured from outside the workers' process.
 */
import { DirectoryKey } from "../shared/directory/hash.ts";
import { entryFor, SCL_NONE } from "../shared/directory/entry.ts";
import { mapBlobSource, SnapshotReader } from "../shared/directory/reader.ts";
import { BlobSet, domainsBlob, finishSnapshot, putShards } from "../shared/directory/snapshot.ts";
import { shardBitsFor } from "../shared/directory/shard.ts";
import type { Stack } from "./stack.ts";

export const FULL_RECIPIENTS = 1_000_000;
const DELTA_RECIPIENTS = 1_000;
const IMPORT_ROWS_PER_REQUEST = 100_000;
const LOOKUPS = 20_000;

/** Warm lookup cost in microseconds, against a 1M-address snapshot (pure code, Node). */
export async function lookupMicros(): Promise<number> {
  const key = await DirectoryKey.import("bench-directory-key-0123456789abcdef");
  // Real keyed hashes for the addresses looked up; random hashes for the rest of the million
  // (indistinguishable to the reader, and it spares a million HMACs).
  const sample = Array.from({ length: LOOKUPS }, (_, i) => `user${i}@example.com`);
  const entries = await Promise.all(sample.map(async (a) => entryFor(await key.hashAddress(a), {})));
  for (let i = sample.length; i < FULL_RECIPIENTS; i++) entries.push({ hash: crypto.getRandomValues(new Uint8Array(16)), flags: 0, scl: SCL_NONE });
  const set = new BlobSet();
  const domains = await set.put(domainsBlob(["example.com"]));
  const shardBits = shardBitsFor(entries.length);
  const shards = await putShards(set, entries, shardBits);
  const snapshot = await finishSnapshot(set, { keyId: key.id, count: entries.length, shardBits, shards, overlay: [], domains, policies: {} });
  const reader = await SnapshotReader.open(snapshot.root, key, mapBlobSource(snapshot.blobs));
  for (const a of sample) if ((await reader.lookupRecipient(a)) === null) throw new Error(`lookup missed ${a}`);
  const started = performance.now();
  for (const a of sample) await reader.lookupRecipient(a);
  return ((performance.now() - started) * 1000) / LOOKUPS;
}

function csvBody(from: number, count: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let next = from;
  const end = from + count;
  let headerSent = false;
  return new ReadableStream({
    pull(controller) {
      if (!headerSent) {
        controller.enqueue(encoder.encode("address,rejectInternet\n"));
        headerSent = true;
      }
      if (next >= end) {
        controller.close();
        return;
      }
      const lines: string[] = [];
      for (let i = 0; i < 5000 && next < end; i++, next++) lines.push(`user${next}@example.com,${next % 97 === 0 ? "true" : "false"}`);
      controller.enqueue(encoder.encode(`${lines.join("\n")}\n`));
    },
  });
}

async function importRecipients(stack: Stack, from: number, count: number): Promise<void> {
  for (let at = from; at < from + count; at += IMPORT_ROWS_PER_REQUEST) {
    const n = Math.min(IMPORT_ROWS_PER_REQUEST, from + count - at);
    const res = await stack.admin("POST", "/recipients", csvBody(at, n), "text/csv");
    const body = (await res.json()) as { created?: number; errors?: unknown[] };
    if (!res.ok || body.created !== n) throw new Error(`import of ${n} rows at ${at} failed: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
}

interface EdgeView {
  items: { id: string; converged: boolean; lastBlobsWritten: number | null; lastBytesWritten: number | null; version: number | null }[];
}

export async function edgeView(stack: Stack): Promise<EdgeView["items"][number]> {
  const res = await stack.admin("GET", "/edges");
  const item = ((await res.json()) as EdgeView).items.find((e) => e.id === "edge-local");
  if (item === undefined) throw new Error("edge-local is not registered");
  return item;
}

export async function waitConverged(stack: Stack, afterVersion: number): Promise<EdgeView["items"][number]> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const edge = await edgeView(stack);
    if (edge.converged && (edge.version ?? 0) > afterVersion) return edge;
    if (Date.now() > deadline) throw new Error("edge did not converge");
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function syncFigures(stack: Stack, log: (line: string) => void): Promise<Record<string, number>> {
  const figures: Record<string, number> = {};

  // Full sync: import with no edge registered (no builds meanwhile), then register it and sync once.
  await stack.admin("DELETE", "/edges/edge-local");
  let started = performance.now();
  await importRecipients(stack, 0, FULL_RECIPIENTS);
  figures["sync.full1m.importSeconds"] = (performance.now() - started) / 1000;
  log(`imported ${FULL_RECIPIENTS} recipients in ${figures["sync.full1m.importSeconds"].toFixed(1)} s`);
  const before = (await stack.admin("PUT", "/edges/edge-local", JSON.stringify({ transport: "binding", binding: "EDGE" }), "application/json")).ok;
  if (!before) throw new Error("could not register edge-local again");
  started = performance.now();
  const round = (await (await stack.admin("POST", "/sync")).json()) as { edges: { id: string; status: string; blobsWritten: number; bytesWritten: number }[] };
  figures["sync.full1m.seconds"] = (performance.now() - started) / 1000;
  const full = round.edges.find((e) => e.id === "edge-local");
  if (full?.status !== "committed") throw new Error(`full sync did not commit: ${JSON.stringify(round).slice(0, 300)}`);
  figures["sync.full1m.kvWrites"] = full.blobsWritten;
  figures["sync.full1m.bytes"] = full.bytesWritten;
  log(`full sync: ${full.blobsWritten} KV writes, ${full.bytesWritten} bytes, ${figures["sync.full1m.seconds"].toFixed(1)} s`);

  // Delta: 1,000 more recipients; the debounced sync after the import pushes them.
  const version = (await edgeView(stack)).version ?? 0;
  await importRecipients(stack, FULL_RECIPIENTS, DELTA_RECIPIENTS);
  const delta = await waitConverged(stack, version);
  figures["sync.delta1k.kvWrites"] = delta.lastBlobsWritten ?? -1;
  figures["sync.delta1k.bytes"] = delta.lastBytesWritten ?? -1;
  log(`delta of ${DELTA_RECIPIENTS}: ${figures["sync.delta1k.kvWrites"]} KV writes`);

  // Propagation: admin call → mail for the new address accepted at the local edge.
  const address = `late-arrival-${Date.now()}@example.com`;
  started = performance.now();
  const added = await stack.admin("POST", "/recipients", JSON.stringify([{ address }]), "application/json");
  if (!added.ok) throw new Error(`adding ${address} failed: ${added.status}`);
  for (;;) {
    const res = await stack.sendMail("sender@example.net", address);
    if (res.status === 200) break;
    if (performance.now() - started > 60_000) throw new Error(`${address} was not accepted within 60 s (last: ${res.status})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  figures["sync.propagation.localSeconds"] = (performance.now() - started) / 1000;
  log(`propagation: ${figures["sync.propagation.localSeconds"].toFixed(2)} s`);
  return figures;
}
