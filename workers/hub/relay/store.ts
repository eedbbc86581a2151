import { sha256Hex } from "../../../shared/directory/hash.ts";
import { type Policies, POLICY_SCHEMAS } from "../../../shared/policy.ts";

/**
 * Relay clients live in the `relay-clients` policy row of D1's `policies` table: the same record
 * `PUT /api/v1/policies/relay-clients` writes and EdgeSync carries to every edge, so a client
 * created here reaches the edges like any policy change, and no second copy can drift from it.
 * Changes are compare-and-swap on the stored document, so two admins creating clients at once
 * never lose one another's client.
 */

export type RelayClientRecord = Policies["relay-clients"][number];

const POLICY = "relay-clients";

/** Attempts at a compare-and-swap before giving up (each lost race re-reads the document). */
const MAX_ATTEMPTS = 8;

/** The relay-clients document as stored, and its exact text (the compare-and-swap's expected value). */
async function readDocument(db: D1Database): Promise<{ clients: RelayClientRecord[]; text: string | null }> {
  const row = await db.prepare("SELECT body FROM policies WHERE name = ?").bind(POLICY).first<{ body: string }>();
  if (row === null) return { clients: [], text: null };
  const parsed = POLICY_SCHEMAS[POLICY].safeParse(JSON.parse(row.body));
  if (!parsed.success) throw new Error(`the stored relay-clients policy is not valid: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  return { clients: parsed.data, text: row.body };
}

/** Every relay client, in the order they were created. */
export async function listRelayClients(db: D1Database): Promise<RelayClientRecord[]> {
  return (await readDocument(db)).clients;
}

/** Thrown by a change to say the race is lost for a reason that retrying cannot fix. */
export class RelayClientConflict extends Error {
  override name = "RelayClientConflict";
}

/**
 * Applies `change` to the current list and stores the result only if nobody changed the list
 * in between (otherwise re-reads and applies it again). `change` returns the new list and what
 * the caller gets back; returning `null` for the list leaves the document as it is.
 */
export async function changeRelayClients<T>(
  db: D1Database,
  change: (clients: RelayClientRecord[]) => { clients: RelayClientRecord[] | null; result: T },
): Promise<T> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const { clients, text } = await readDocument(db);
    const { clients: next, result } = change(clients);
    if (next === null) return result;
    const body = JSON.stringify(next);
    const written =
      text === null
        ? await db.prepare("INSERT INTO policies (name, body) VALUES (?, ?) ON CONFLICT (name) DO NOTHING").bind(POLICY, body).run()
        : await db
            .prepare("UPDATE policies SET body = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE name = ? AND body = ?")
            .bind(body, POLICY, text)
            .run();
    if (written.meta.changes > 0) return result;
  }
  throw new RelayClientConflict("the relay clients changed too often while this change was being made; try again");
}

/**
 * A new relay API key: "pcr_" and 32 random bytes, base64url. It is shown once; only its SHA-256
 * is stored. A plain SHA-256 suffices (no slow hash): the key is 256 random bits, not a password.
 */
export async function newRelayKey(): Promise<{ key: string; keyHash: string }> {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const key = `pcr_${btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "")}`;
  return { key, keyHash: await sha256Hex(key) };
}
