import { DirectoryKey } from "../../shared/directory/hash.ts";

let cached: { secret: string; key: Promise<DirectoryKey> } | null = null;

/**
 * The directory key, imported once per isolate (and again only if the secret changes). A failed
 * import (secret missing or too short) is not kept, so fixing the secret takes effect at once.
 */
export function directoryKey(env: Env): Promise<DirectoryKey> {
  const secret = env.DIRECTORY_KEY;
  if (cached === null || cached.secret !== secret) {
    const key = DirectoryKey.import(secret);
    cached = { secret, key };
    key.catch(() => {
      if (cached?.key === key) cached = null;
    });
  }
  return cached.key;
}
