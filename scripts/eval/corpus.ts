import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

/** The shared mail corpora (the folder beside the checkout, unless PORTCULLIS_CORPORA says otherwise). */
export const corporaDir = path.resolve(process.env.PORTCULLIS_CORPORA ?? path.join(import.meta.dirname, "..", "..", "..", "shared", "corpora"));

/** Every file under a corpus folder whose name ends in one of `extensions`, sorted. */
export async function corpusFiles(dir: string, extensions: string[]): Promise<string[]> {
  const root = path.join(corporaDir, dir);
  if (!existsSync(root)) throw new Error(`corpus folder ${root} not found (set PORTCULLIS_CORPORA)`);
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && extensions.some((x) => e.name.endsWith(x)))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

export const readBytes = async (file: string): Promise<Uint8Array> => new Uint8Array(await readFile(file));
