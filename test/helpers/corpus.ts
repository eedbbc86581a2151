import { env } from "cloudflare:workers";

/** Relative paths of the corpus files under `dir` whose names end in one of `extensions`. */
export async function listCorpus(dir: string, extensions: string[]): Promise<string[]> {
  const res = await env.CORPUS.fetch(`http://corpus/list/${encodeURIComponent(dir)}`);
  if (!res.ok) throw new Error(`corpus listing failed (${res.status}): ${await res.text()}`);
  return ((await res.json()) as string[]).filter((f) => extensions.some((ext) => f.endsWith(ext)));
}

export async function readCorpus(file: string): Promise<Uint8Array> {
  const res = await env.CORPUS.fetch(`http://corpus/file/${encodeURIComponent(file)}`);
  if (!res.ok) throw new Error(`corpus read failed (${res.status}): ${file}`);
  return new Uint8Array(await res.arrayBuffer());
}
