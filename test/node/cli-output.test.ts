import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HubApiError, HubClient, resolveConnection } from "../../cli/api.ts";
import { csvChunks, csvRecords, IMPORT_CHUNK_ROWS, inspectImportFile } from "../../cli/commands/import-chunks.ts";
import { JsonListWriter, pointInTime } from "../../cli/format.ts";
import { main } from "../../cli/main.ts";
import type { Io } from "../../cli/output.ts";
import { maskToken, normaliseHubUrl, readConfig, writeConfig } from "../../cli/profiles.ts";
import { Progress } from "../../cli/progress.ts";
import { clean, colourEnabled, printTable } from "../../cli/table.ts";

const temps: string[] = [];

/** A temporary folder, removed after the tests. */
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

/** An Io that keeps what is written, as a terminal of `columns` columns or as pipes. */
function capture(tty?: { columns?: number; err?: boolean }): Io & { lines: string[]; errors: string[]; raw: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  const raw: string[] = [];
  return {
    lines,
    errors,
    raw,
    out: (l) => lines.push(l),
    err: (l) => errors.push(l),
    errRaw: (t) => raw.push(t),
    tty: tty === undefined ? undefined : { out: true, err: tty.err ?? true, columns: tty.columns, stdin: false },
  };
}

describe("tables", () => {
  const columns = [
    { header: "NAME", value: (r: { name: string; n: number }) => r.name, shrink: true },
    { header: "COUNT", value: (r: { name: string; n: number }) => r.n, align: "right" as const },
  ];

  it("aligns columns to their widest value, numbers to the right, with no trailing spaces", () => {
    const io = capture();
    printTable(
      io,
      columns,
      [
        { name: "alpha", n: 5 },
        { name: "a-much-longer-name", n: 12345 },
      ],
      "none",
    );
    expect(io.lines).toEqual(["NAME                COUNT", "alpha                   5", "a-much-longer-name  12345"]);
  });

  it("cuts shrinkable columns with … to fit a terminal, and colours only a terminal without NO_COLOR", () => {
    const io = capture({ columns: 20 });
    printTable(io, columns, [{ name: "a-much-longer-name", n: 1 }], "none");
    expect(io.lines[1]).toBe("a-much-longe…      1");
    expect(io.lines[0]).toContain("\x1b[1m");
    expect(colourEnabled(io, {})).toBe(true);
    expect(colourEnabled(io, { NO_COLOR: "1" })).toBe(false);
    expect(colourEnabled(capture(), {})).toBe(false);
  });

  it("prints the empty text for no rows, and shows control characters from the hub as ?", () => {
    const io = capture();
    printTable(io, columns, [], "Nothing here.");
    expect(io.lines).toEqual(["Nothing here."]);
    expect(clean("Subject \x1b[31mred\r\n")).toBe("Subject ?[31mred??");
    expect(clean(null)).toBe("-");
  });
});

describe("formats", () => {
  it("reads --since as an ISO time or a duration before now", () => {
    const now = Date.parse("2026-11-21T12:00:00Z");
    expect(pointInTime("2h", "--since", now)).toBe("2026-11-21T10:00:00.000Z");
    expect(pointInTime("30m", "--since", now)).toBe("2026-11-21T11:30:00.000Z");
    expect(pointInTime("2026-11-20T08:00:00Z", "--since", now)).toBe("2026-11-20T08:00:00.000Z");
    expect(() => pointInTime("yesterday", "--since", now)).toThrow(/--since "yesterday"/);
  });

  it("streams a list as one JSON document", () => {
    for (const pages of [[], [[1]], [[1, 2], [], [3]]]) {
      const io = capture();
      const w = new JsonListWriter(io);
      for (const p of pages) w.add(p);
      w.end({ state: "queued" });
      expect(JSON.parse(io.lines.join("\n"))).toEqual({ items: pages.flat(), state: "queued" });
    }
  });
});

describe("import files", () => {
  it("splits CSV records at line breaks outside quotes, skipping empty lines, as the API reads them", async () => {
    const dir = await tempDir("portcullis-import-");
    const file = path.join(dir, "r.csv");
    await writeFile(file, '\uFEFFaddress,aliases\r\n\r\na@x.test,"b@x.test;\nc@x.test"\rd@x.test,\n\n"e@x.test","say ""hi"""');
    const records: string[] = [];
    for await (const r of csvRecords(file)) records.push(r.text);
    expect(records).toEqual(["address,aliases", 'a@x.test,"b@x.test;\nc@x.test"', "d@x.test,", '"e@x.test","say ""hi"""']);
    expect(await inspectImportFile(file, undefined)).toMatchObject({ format: "csv" });
    await writeFile(path.join(dir, "r.txt"), ' \n[{"address": "a@x.test"}]');
    expect(await inspectImportFile(path.join(dir, "r.txt"), undefined)).toMatchObject({ format: "json" });
    await expect(inspectImportFile(path.join(dir, "none.csv"), undefined)).rejects.toThrow(/cannot read/);
  });

  it("sends IMPORT_CHUNK_ROWS rows a request, each chunk led by the header", async () => {
    const dir = await tempDir("portcullis-import-");
    const file = path.join(dir, "big.csv");
    const rows = Array.from({ length: IMPORT_CHUNK_ROWS + 1 }, (_, i) => `u${i}@x.test`);
    await writeFile(file, `address\n${rows.join("\n")}\n`);
    const chunks = [];
    for await (const c of csvChunks(file)) chunks.push({ rows: c.rows, lines: new TextDecoder().decode(c.body).trimEnd().split("\n") });
    expect(chunks.map((c) => c.rows)).toEqual([IMPORT_CHUNK_ROWS, 1]);
    expect(chunks[0]!.lines).toHaveLength(IMPORT_CHUNK_ROWS + 1);
    expect(chunks[1]!.lines).toEqual(["address", `u${IMPORT_CHUNK_ROWS}@x.test`]);
  });
});

describe("progress", () => {
  it("draws a bar in place on a terminal, plain lines on a pipe, nothing with --json", () => {
    const tty = capture({ err: true });
    const bar = new Progress(tty, { json: false, totalBytes: 1000 });
    bar.update({ bytesDone: 500, rows: 50, label: "sending" });
    bar.note("chunk 1 done");
    bar.done();
    expect(tty.raw[0]).toMatch(/^\r\x1b\[2K█{12}░{12} {2}50% {2}50 rows/);
    expect(tty.raw.at(-1)).toBe("\r\x1b[2K");
    expect(tty.errors).toEqual(["chunk 1 done"]);

    const pipe = capture();
    const lines = new Progress(pipe, { json: false, totalBytes: 1000 });
    lines.update({ bytesDone: 500, rows: 50, label: "sending" });
    lines.note("chunk 1 done");
    lines.done();
    expect(pipe.raw).toEqual([]);
    expect(pipe.errors).toEqual(["chunk 1 done"]);

    const json = capture({ err: true });
    const none = new Progress(json, { json: true, totalBytes: 1000 });
    none.update({ bytesDone: 500, rows: 50, label: "sending" });
    none.note("chunk 1 done");
    none.done();
    expect([...json.raw, ...json.errors]).toEqual([]);
  });
});

describe("profiles", () => {
  it("writes the config owner-only, keeps it whole, and warns when others can read it", async () => {
    const dir = await tempDir("portcullis-profiles-");
    const file = path.join(dir, "portcullis", "config.json");
    expect(await readConfig(file)).toEqual({ defaultProfile: null, profiles: {} });
    const config = { defaultProfile: "a", profiles: { a: { hub: "http://h", token: "t".repeat(40), savedAt: "2026-11-21T00:00:00Z" } } };
    await writeConfig(file, config);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect(await readConfig(file)).toEqual(config);
    await chmod(file, 0o644);
    const warnings: string[] = [];
    await readConfig(file, (w) => warnings.push(w));
    expect(warnings[0]).toMatch(/can be read by other users/);
    await writeFile(file, "{broken");
    await expect(readConfig(file)).rejects.toThrow(/not valid JSON/);
  });

  it("resolves the environment over the profile, and masks tokens", async () => {
    const dir = await tempDir("portcullis-profiles-");
    const file = path.join(dir, "portcullis", "config.json");
    await writeConfig(file, { defaultProfile: "p", profiles: { p: { hub: "http://profile:1", token: "profile-token-0123456789", savedAt: "" } } });
    const env = { XDG_CONFIG_HOME: dir };
    expect(await resolveConnection(undefined, env)).toMatchObject({ hub: "http://profile:1", token: "profile-token-0123456789" });
    expect(await resolveConnection(undefined, { ...env, PORTCULLIS_TOKEN: "env-token" })).toMatchObject({ hub: "http://profile:1", token: "env-token" });
    expect(await resolveConnection(undefined, { ...env, PORTCULLIS_HUB: "http://env:2/api/v1" })).toMatchObject({ hub: "http://env:2" });
    await expect(resolveConnection("other", env)).rejects.toThrow(/no profile named "other"/);
    await expect(resolveConnection(undefined, { XDG_CONFIG_HOME: path.join(dir, "none") })).rejects.toThrow(/no hub configured/);
    expect(maskToken("0123456789abcdef")).toBe("…cdef");
    expect(maskToken("short")).toBe("…");
    expect(normaliseHubUrl("https://hub.example.com/api/v1/")).toBe("https://hub.example.com");
    expect(() => normaliseHubUrl("https://user:pw@hub.example.com")).toThrow(/credentials/);
    expect(() => normaliseHubUrl("ftp://hub")).toThrow(/http/);
  });
});

describe("the API client", () => {
  it("reports a redirect instead of following it with the token", async () => {
    const { createServer } = await import("node:http");
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(302, { location: "http://elsewhere.example/api/v1/domains" }).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const err = await new HubClient({ hub: `http://127.0.0.1:${port}`, token: "tok" }).get("/domains").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HubApiError);
      expect((err as HubApiError).message).toMatch(/redirect to http:\/\/elsewhere\.example/);
      expect(seen).toEqual(["Bearer tok"]);
    } finally {
      server.close();
    }
  });
});

describe("usage mistakes of the admin commands", () => {
  it("exit 1 with a pointer to the help, and as JSON with --json", async () => {
    const io = capture();
    expect(await main(["domains"], io)).toBe(1);
    expect(io.errors.join("\n")).toMatch(/domains needs a sub-command: list, add, remove\nRun "portcullis domains --help"/);
    const json = capture();
    expect(await main(["queue", "--state", "lost", "--json"], json)).toBe(1);
    expect(JSON.parse(json.lines[0]!)).toEqual({ error: { status: null, code: "usage", message: "--state must be one of queued, suspended, dead, deleted" } });
    expect(await main(["tokens", "create", "ci", "--role", "root"], capture())).toBe(1);
    expect(await main(["domains", "list", "--bogus"], capture())).toBe(1);
  });

  it("keep scan's and send's own exit codes", async () => {
    expect(await main(["scan"], capture())).toBe(64);
    expect(await main(["send", "x.eml"], capture())).toBe(64);
  });

  it("print the help text for a command", async () => {
    const io = capture();
    expect(await main(["queue", "--help"], io)).toBe(0);
    expect(io.lines[0]).toMatch(/^Usage: portcullis queue/);
  });
});
